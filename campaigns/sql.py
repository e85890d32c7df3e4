"""Dialect-aware bulk statements (MariaDB and the embedded SQLite) used on the hot paths."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pymysql.converters import escape_string
from sqlalchemy import JSON, CursorResult, Result, Table, func
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


# -- literal multi-row statements for MariaDB ----------------------------------------------------------------------
#
# The crediting path writes thousands of rows per batch. Through SQLAlchemy's executemany each value is bound,
# processed and escaped by generic code (about 4 µs a value); rendering the VALUES list here, with one converter
# per column chosen once per table, costs a fraction of that and sends the same single statement.


def _quote(v: str) -> str:
    return "'" + escape_string(v) + "'"


def _plain(v: Any) -> str:
    """A value of a column with no type processing, by its Python type."""
    if v is None:
        return "NULL"
    if v is True or v is False:
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return _quote(v)
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC).replace(tzinfo=None)
        return "'" + v.isoformat(sep=" ") + "'"
    if isinstance(v, date):
        return "'" + v.isoformat() + "'"
    if isinstance(v, Decimal | float):
        return str(v)
    raise TypeError(f"no SQL literal for {type(v).__name__}")


def _utc(v: datetime | None) -> str:
    if v is None:
        return "NULL"
    if v.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return "'" + v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ") + "'"


def _json(v: Any) -> str:
    return "NULL" if v is None else _quote(json.dumps(v))


@lru_cache(maxsize=256)
def _converters(table: Table, columns: tuple[str, ...]) -> tuple[Callable[[Any], str], ...]:
    from campaigns.models.base import UTCDateTime  # the one type decorator of the schema

    out: list[Callable[[Any], str]] = []
    for name in columns:
        kind = table.c[name].type
        out.append(_utc if isinstance(kind, UTCDateTime) else _json if isinstance(kind, JSON) else _plain)
    return tuple(out)


def _filled(table: Table, rows: Sequence[dict[str, Any]]) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """The rows with every column any of them names, plus the columns that have a Python-side default.

    SQLAlchemy fills those defaults (``default=0``, ``default=utcnow``) itself; a literal statement must too.
    """
    named = dict.fromkeys(k for r in rows for k in r)
    defaults: dict[str, Any] = {}
    for col in table.c:
        d = col.default
        if d is None or not (d.is_scalar or d.is_callable):
            continue
        defaults[col.name] = d.arg if d.is_scalar else d.arg(None)  # type: ignore[attr-defined]
        named.setdefault(col.name)
    columns = tuple(named)
    if any(len(r) != len(columns) for r in rows):
        rows = [r if len(r) == len(columns) else {**defaults, **r} for r in rows]
    missing = [c for c in columns if c not in defaults and any(c not in r for r in rows)]
    if missing:
        raise KeyError(f"rows of {table.name} lack {missing} and the column has no default")
    return columns, list(rows)


def _values(table: Table, columns: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> str:
    conv = list(zip(columns, _converters(table, columns), strict=True))
    return ",".join("(" + ",".join(f(r[c]) for c, f in conv) + ")" for r in rows)


def _run(session: Session, sql: str) -> Result[Any]:
    """A literal statement, sent as is: no parameters, so a ``%`` in a value is not taken for a placeholder."""
    return session.connection().exec_driver_sql(sql, execution_options={"no_parameters": True})


def insert_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, returning_ids: bool = False
) -> list[int]:
    """Insert rows in one statement; with ``returning_ids`` the new ids in the rows' order.

    MariaDB renders the VALUES list literally (see above); the embedded SQLite goes through SQLAlchemy.
    """
    if not rows:
        return []
    if not _is_mysql(session):
        from sqlalchemy import insert

        if returning_ids:
            stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            return list(session.scalars(stmt, list(rows)).all())
        session.execute(insert(table), list(rows))
        return []
    columns, full = _filled(table, rows)
    sql = f"INSERT INTO `{table.name}` ({','.join(f'`{c}`' for c in columns)}) VALUES {_values(table, columns, full)}"
    if not returning_ids:
        _run(session, sql)
        return []
    # one statement's auto-increment ids grow in the order of its VALUES rows
    return sorted(i for (i,) in _run(session, sql + " RETURNING id"))


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
        clauses = [f"`{c}`=`{c}`+VALUES(`{c}`)" for c in add]
        clauses += [f"`{c}`=VALUES(`{c}`)" for c in replace]
        clauses += [f"`{c}`=LEAST(COALESCE(`{c}`,VALUES(`{c}`)),VALUES(`{c}`))" for c in least]
        if not clauses:
            clauses = [f"`{keys[0]}`=`{keys[0]}`"]
        columns, full = _filled(table, rows)
        _run(
            session,
            f"INSERT INTO `{table.name}` ({','.join(f'`{c}`' for c in columns)}) VALUES"
            f" {_values(table, columns, full)} ON DUPLICATE KEY UPDATE {','.join(clauses)}",
        )
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
