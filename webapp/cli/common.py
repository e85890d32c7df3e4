"""What the command groups share: say something in the operator's language, report a domain error and exit 1."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from campaigns.errors import DomainError
from campaigns.i18n import N_, environment_language, translate


def say(msgid: str, **values: Any) -> None:
    """One line of output, translated from the catalog into the shell's language (LANG=vi_VN.UTF-8)."""
    click.echo(translate(environment_language(), msgid, **values))


def fail(err: DomainError) -> NoReturn:
    click.echo(translate(environment_language(), N_("error: {message}"), message=err.message), err=True)
    for f in err.fields:
        click.echo(f"  {f.path}: {f.reason}", err=True)
    sys.exit(1)
