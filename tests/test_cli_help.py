"""Every command, group and option of `flask --app wsgi …` explains itself in `--help`; listings' ids can be pasted back."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from flask import Flask

from webapp.cli.common import RECORD_NUMBER


def _walk(cmd: click.Command, path: list[str]) -> list[tuple[str, click.Command]]:
    found = [(" ".join(path), cmd)]
    if isinstance(cmd, click.Group):
        for name, sub in cmd.commands.items():
            found += _walk(sub, [*path, name])
    return found


def _ours(app: Flask) -> list[tuple[str, click.Command]]:
    # Flask's own commands (run, shell, routes) come with their help; ours are the rest.
    return [
        found
        for name, cmd in app.cli.commands.items()
        if name not in ("run", "shell", "routes")
        for found in _walk(cmd, [name])
    ]


def test_every_command_and_option_has_help(app):
    missing = []
    for path, cmd in _ours(app):
        if not (cmd.help or cmd.short_help):
            missing.append(path)
        missing += [
            f"{path} {opt.opts[0]}"
            for opt in cmd.params
            if isinstance(opt, click.Option) and not opt.help and opt.name != "help"
        ]
    assert missing == []


@pytest.mark.parametrize(
    "path", ["campaigns publish", "campaigns validate", "settings show", "users list", "users unlock"]
)
def test_help_pages_say_what_the_command_does(app, path):
    result = CliRunner().invoke(app.cli, [*path.split(), "--help"], obj=None)
    assert result.exit_code == 0
    first_line = result.output.split("\n\n")[1].strip()
    assert len(first_line) > 20, result.output


def test_a_record_number_reads_as_listings_print_it():
    assert RECORD_NUMBER.convert("#3", None, None) == 3
    assert RECORD_NUMBER.convert("3", None, None) == 3
    with pytest.raises(click.BadParameter):
        RECORD_NUMBER.convert("#x", None, None)
