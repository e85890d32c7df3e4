"""``flask transactions import``, ``flask customers import``, ``flask imports list|show|errors``: bulk imports.

Thin over :mod:`campaigns.imports.runner`: check the file up front, create or resume
the import record, run it here with a live progress bar (rich), print the
summary. Accepted transactions go to the app's dispatcher, as from the API.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup
from rich.console import Console
from rich.progress import BarColumn, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as Bar
from sqlalchemy import select

from campaigns.errors import DomainError
from campaigns.imports import runner as imports
from campaigns.imports.files import FORMATS, FileProblem, inspect
from campaigns.models import Provider
from workers.imports import options_of, stay_queued
from workers.inline import InlineDispatcher

from ..extensions import db, db_session, dispatcher, runtime
from .common import RECORD_NUMBER


class LiveBar:
    """rows read, accepted, rejected, rows/s and ETA (from the bytes read), on stderr."""

    def __init__(self, enabled: bool, size: int, label: str) -> None:
        self.enabled = enabled
        self.bar = Bar(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn(
                "{task.fields[rows]:,} rows read · [green]{task.fields[accepted]:,} accepted[/] · "
                "{task.fields[duplicates]:,} duplicates · [red]{task.fields[rejected]:,} rejected[/] · "
                "{task.fields[rate]:,.0f} rows/s"
            ),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self.task: TaskID = self.bar.add_task(
            "import", total=max(size, 1), rows=0, accepted=0, duplicates=0, rejected=0, rate=0.0
        )

    def __enter__(self) -> LiveBar:
        self.bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.stop()

    def update(self, p: imports.Progress) -> None:
        self.bar.update(
            self.task,
            completed=p.bytes_done,
            rows=p.rows_read,
            accepted=p.accepted,
            duplicates=p.duplicates,
            rejected=p.rejected,
            rate=p.rows_per_second,
        )


def _provider_id(code: str) -> int:
    pid = db.session.scalar(select(Provider.id).where(Provider.code == code))
    if pid is None:
        click.echo(
            f"error: no provider '{code}' (create it with: flask --app wsgi providers create {code} --name ...)",
            err=True,
        )
        sys.exit(1)
    return pid


def _run(
    kind: str,
    file: Path,
    *,
    provider_id: int | None,
    resume: bool,
    fmt: str | None,
    chunk_rows: int | None,
    errors_path: Path | None,
    progress: bool,
) -> None:
    """Check, create or resume, run, summarise: shared by both import commands."""
    try:
        info = inspect(file, kind, fmt)
    except FileProblem as problem:
        click.echo(f"error: {file.name}: {problem.message}", err=True)
        sys.exit(1)
    rt = runtime()
    rec = None
    token = None
    if resume:
        rec = imports.find_resumable(db_session(), kind=kind, provider_id=provider_id, fingerprint=info.fingerprint)
        if rec is not None and rec.status == imports.DONE:
            click.echo(f"Import #{rec.id} of this file is already done; nothing to resume.")
            _summary(rec.id, errors_path)
            return
        if rec is not None:
            token = imports.claim(rt.session_factory, rec.id, force=True)
            click.echo(f"Resuming import #{rec.id} after line {rec.last_line} ({rec.rows_read:,} rows already read).")
        else:
            click.echo("No earlier import of this file: starting a new one.")
    if rec is None:
        rec = imports.create_import(
            db_session(), kind=kind, info=info, file_name=file.name, provider_id=provider_id, source="cli"
        )
        db.session.commit()
        token = imports.claim(rt.session_factory, rec.id)
    if token is None:
        click.echo(f"error: import #{rec.id} is being run by another process", err=True)
        sys.exit(1)
    queue = dispatcher()
    embedded = isinstance(queue, InlineDispatcher)  # SQLite: credit after the import, not beside it
    options = options_of(rt)
    if chunk_rows:
        options = imports.Options(max_future=options.max_future, chunk_rows=chunk_rows)
    label = f"#{rec.id} {file.name}"
    with LiveBar(progress, info.size, label) as bar:
        result = imports.run_import(
            rt.session_factory,
            rec.id,
            token,
            dispatch=stay_queued if embedded else queue.dispatch,
            path=file,
            options=options,
            progress=bar.update,
        )
    if isinstance(queue, InlineDispatcher) and kind == imports.TRANSACTIONS:
        click.echo(f"Credited {queue.drain_now():,} transactions (embedded queue).")
    _summary(rec.id, errors_path)
    if result.status != imports.DONE:
        sys.exit(1)


def _summary(import_id: int, errors_path: Path | None) -> None:
    db.session.expire_all()
    rec = db.session.get(imports.Import, import_id)
    assert rec is not None
    v = imports.view(db_session(), rec)
    extra = f", {v['points']:,} opening points" if "points" in v else ""
    click.echo(
        f"Import #{v['id']} {v['status']}: {v['rows_read']:,} rows read, {v['accepted']:,} accepted, "
        f"{v['duplicates']:,} duplicates, {v['rejected']:,} rejected{extra} ({v['rows_per_second']:,.0f} rows/s)."
    )
    if v["message"]:
        click.echo(f"error: {v['message']}", err=True)
    if v["rejected"]:
        if errors_path is not None:
            _write_errors(import_id, rec.kind, errors_path)
            click.echo(f"Error report written to {errors_path}.")
        else:
            click.echo(f"Error report: flask --app wsgi imports errors {import_id} --output errors.csv")


def _write_errors(import_id: int, kind: str, path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        for text in imports.error_report(runtime().session_factory, import_id, kind):
            out.write(text)


FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
COMMON = [
    click.option(
        "--resume", is_flag=True, help="Continue the last import of this same file after its last committed line."
    ),
    click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default=None, help="Insist on a format (detected otherwise)."
    ),
    click.option("--chunk-rows", type=int, default=None, help="Rows per database transaction (default 2000)."),
    click.option(
        "--errors",
        "errors_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the error report CSV here.",
    ),
    click.option("--progress/--no-progress", default=True, show_default=True, help="Live progress bar on stderr."),
]


def _common(f: Any) -> Any:
    for option in reversed(COMMON):
        f = option(f)
    return f


transactions_cli = AppGroup("transactions", help="Bulk transaction files from providers.")
customers_cli = AppGroup("customers", help="Customer migrations with opening balances.")
imports_cli = AppGroup("imports", help="Bulk imports: status and error reports.")


@transactions_cli.command("import")
@click.argument("file", type=FILE)
@click.option("--provider", "provider_code", required=True, help="Code of the provider whose file this is.")
@_common
def transactions_import(file: Path, provider_code: str, **kw: Any) -> None:
    """Import a CSV or NDJSON transaction file (gzip or not), validated and credited like the API's."""
    _run(imports.TRANSACTIONS, file, provider_id=_provider_id(provider_code), **kw)


@customers_cli.command("import")
@click.argument("file", type=FILE)
@click.option(
    "--funder", "funder_code", default=None, help="Provider funding the opening balances (default: programme)."
)
@_common
def customers_import(file: Path, funder_code: str | None, **kw: Any) -> None:
    """Migrate customers: identities, tier, birth date and opening balances with their expiry."""
    _run(imports.CUSTOMERS, file, provider_id=_provider_id(funder_code) if funder_code else None, **kw)


@imports_cli.command("list")
@click.option("--provider", "provider_code", default=None, help="Only this provider's imports (its code).")
def imports_list(provider_code: str | None) -> None:
    """The latest imports, newest first."""
    pid = _provider_id(provider_code) if provider_code else None
    for rec in imports.list_imports(db_session(), pid):
        v = imports.view(db_session(), rec)
        click.echo(
            f"#{v['id']:<6} {v['kind']:<12} {v['status']:<8} {v['provider'] or '-':<10} "
            f"{v['rows_read']:>11,} read {v['accepted']:>11,} accepted {v['rejected']:>9,} rejected  "
            f"{v['file_name']}"
        )


@imports_cli.command("show")
@click.argument("import_id", type=RECORD_NUMBER)
def imports_show(import_id: int) -> None:
    """One import's counts and outcome."""
    try:
        rec = imports.get_import(db_session(), import_id, None)
    except DomainError as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)
    for key, value in imports.view(db_session(), rec).items():
        click.echo(f"{key}: {value}")


@imports_cli.command("errors")
@click.argument("import_id", type=RECORD_NUMBER)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default: stdout).")
def imports_errors(import_id: int, output: Path | None) -> None:
    """The error report CSV: line, provider_txn_id (or customer_ref), field, reason."""
    try:
        rec = imports.get_import(db_session(), import_id, None)
    except DomainError as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)
    if output is not None:
        _write_errors(import_id, rec.kind, output)
        return
    for text in imports.error_report(runtime().session_factory, import_id, rec.kind):
        click.echo(text, nl=False)
