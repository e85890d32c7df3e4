"""What the command groups share: report a domain error and exit 1; the app's worker runtime."""

from __future__ import annotations

import sys

import click
from flask import current_app

from campaigns.errors import DomainError
from workers.runtime import Runtime


def fail(err: DomainError) -> None:
    click.echo(f"error: {err.message}", err=True)
    for f in err.fields:
        click.echo(f"  {f.path}: {f.reason}", err=True)
    sys.exit(1)


def runtime() -> Runtime:
    return current_app.extensions["loyalty.runtime"]
