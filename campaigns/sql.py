"""Dialect-aware bulk statements (MariaDB and the embedded SQLite) used on the hot paths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import CursorResult, Result, Table, func
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Session


def table_of(model: type[DeclarativeBase]) -> Table:
    """A mapped class's ``Table``, for the Core statements on the hot paths.

    ``__table__`` is declared as a ``FromClause`` (a class may be mapped to a join or a select); every model here
    maps one table, and this says so once instead of at each bulk insert.
    """
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to a single Table")
    return table


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched (``Session.execute`` is typed ``Result``; DML returns a ``CursorResult``)."""
    if not isinstance(result, CursorResult):
        raise TypeError("rowcount needs the result of an UPDATE or DELETE")
    return result.rowcount


def _is_mysql(session: Session) -> bool:
    return session.get_bind().dialect.name in ("mysql", "mariadb")


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    add: Sequence[str] = (),
    replace: Sequence[str] = (),
    least: Sequence[str] = (),
) -> None:
    """Insert rows; on a key clash add the ``add`` columns, overwrite the ``replace`` ones and keep the smaller
    of the old and new ``least`` ones (a first-seen date that may only move earlier; an unset one takes the new).

    One multi-row statement instead of a read-modify-write per row: the
    increments are atomic in the database, whoever else is writing.
    """
    if not rows:
        return
    rows = sorted(rows, key=lambda r: tuple(r[k] for k in keys))  # one lock order for every writer
    if _is_mysql(session):
        mysql = mysql_insert(table)
        sets: dict[str, Any] = {c: table.c[c] + mysql.inserted[c] for c in add}
        sets.update({c: mysql.inserted[c] for c in replace})
        sets.update({c: func.least(func.coalesce(table.c[c], mysql.inserted[c]), mysql.inserted[c]) for c in least})
        if not sets:
            sets = {keys[0]: table.c[keys[0]]}
        session.execute(mysql.on_duplicate_key_update(**sets), rows)
    else:
        sqlite = sqlite_insert(table)
        sets = {c: table.c[c] + sqlite.excluded[c] for c in add}
        sets.update({c: sqlite.excluded[c] for c in replace})
        # min(a, b) is SQLite's scalar LEAST; both return NULL if either is, so an unset column takes the new value
        sets.update({c: func.min(func.coalesce(table.c[c], sqlite.excluded[c]), sqlite.excluded[c]) for c in least})
        if sets:
            session.execute(sqlite.on_conflict_do_update(index_elements=list(keys), set_=sets), rows)
        else:
            session.execute(sqlite.on_conflict_do_nothing(index_elements=list(keys)), rows)
