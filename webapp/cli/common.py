"""What the command groups share: say something in the operator's language, report a domain error and exit 1,
read a record number as the CLI prints it."""

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
        where = f" (line {f.line}, column {f.column})" if f.line is not None else ""
        click.echo(f"  {f.path}{where}: {f.reason}", err=True)
    sys.exit(1)


class RecordNumber(click.ParamType):
    """A record id as listings print it: `3` and `#3` are the same import (what `imports list` shows can be pasted)."""

    name = "id"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().removeprefix("#")
        if not text.isdigit():
            self.fail(f"{value!r} is not a record number (e.g. 3 or #3)", param, ctx)
        return int(text)


RECORD_NUMBER = RecordNumber()
