"""What the command groups share: report a domain error and exit 1."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from campaigns.errors import DomainError


def fail(err: DomainError) -> NoReturn:
    click.echo(f"error: {err.message}", err=True)
    for f in err.fields:
        where = f" (line {f.line}, column {f.column})" if f.line is not None else ""
        click.echo(f"  {f.path}{where}: {f.reason}", err=True)
    sys.exit(1)
