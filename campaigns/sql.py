"""Dialect-aware bulk statements (MariaDB and the embedded SQLite) used on the hot paths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
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


def _is_mysql(session: Session) -> bool:
    return session.get_bind().dialect.name in ("mysql", "mariadb")


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    add: Sequence[str] = (),
    replace: Sequence[str] = (),
) -> None:
    """Insert rows; on a key clash add the ``add`` columns and overwrite the ``replace`` ones.

    One multi-row statement instead of a read-modify-write per row: the
    increments are atomic in the database, whoever else is writing.
    """
    if not rows:
        return
    rows = sorted(rows, key=lambda r: tuple(r[k] for k in keys))  # one lock order for every writer
    if _is_mysql(session):
        stmt = mysql_insert(table)
        sets: dict[str, Any] = {c: table.c[c] + stmt.inserted[c] for c in add}
        sets.update({c: stmt.inserted[c] for c in replace})
        if not sets:
            sets = {keys[0]: table.c[keys[0]]}
        session.execute(stmt.on_duplicate_key_update(**sets), rows)
    else:
        stmt = sqlite_insert(table)
        sets = {c: table.c[c] + stmt.excluded[c] for c in add}
        sets.update({c: stmt.excluded[c] for c in replace})
        if sets:
            session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=sets), rows)
        else:
            session.execute(stmt.on_conflict_do_nothing(index_elements=list(keys)), rows)
