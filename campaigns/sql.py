"""Dialect-aware bulk statements (MariaDB and the embedded SQLite) used on the hot paths."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Connection, CursorResult, Result, Table, TypeDecorator, func, insert
from sqlalchemy.dialects import mysql
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


# -- literal multi-row statements for MariaDB ----------------------------------------------------------------------
#
# The crediting path writes thousands of rows per batch. Through SQLAlchemy's executemany each value is bound,
# processed and escaped by generic code (about 4 µs a value); rendering the VALUES list here, with one converter
# per column chosen once per table, costs a fraction of that and sends the same single statement.


_MARIADB = mysql.dialect()


# PyMySQL's ``escape_string`` table (backslash escapes, the server's default mode), applied in place: the call
# through it was a fifth of rendering a batch's strings.
_ESCAPES = [chr(i) for i in range(128)]
for _char, _escaped in {
    "\0": "\\0",
    "\n": "\\n",
    "\r": "\\r",
    "\x1a": "\\Z",
    "'": "\\'",
    '"': '\\"',
    "\\": "\\\\",
}.items():
    _ESCAPES[ord(_char)] = _escaped


def _quote(v: str) -> str:
    return "'" + v.translate(_ESCAPES) + "'"


def _plain(v: Any) -> str:
    """A value of a column with no type processing, by its Python type (exact types first: the common case)."""
    t = type(v)
    if t is int:
        return str(v)
    if v is None:
        return "NULL"
    if t is str:
        return _quote(v)
    if t is bool:
        return "1" if v else "0"
    if isinstance(v, int):  # an IntEnum or another int subclass
        return str(int(v))
    if isinstance(v, str):
        return _quote(str(v))
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC).replace(tzinfo=None)
        return "'" + v.isoformat(sep=" ") + "'"
    if isinstance(v, date):
        return "'" + v.isoformat() + "'"
    if isinstance(v, Decimal | float):
        return str(v)
    raise TypeError(f"no SQL literal for {type(v).__name__}")


def _decorated(kind: TypeDecorator[Any]) -> Callable[[Any], str]:
    """A column of a ``TypeDecorator`` (``UTCDateTime``): its own bind processing, then the plain literal.

    Cached per value: a batch stamps all its rows with the same few instants.
    """
    bind = kind.process_bind_param

    def literal(v: Any) -> str:
        return _plain(bind(v, _MARIADB))

    cached = lru_cache(maxsize=4096)(literal)

    def convert(v: Any) -> str:
        try:
            return cached(v)
        except TypeError:  # an unhashable value (a decorated JSON column would bring one): not cached
            return literal(v)

    return convert


def _json(v: Any) -> str:
    return "NULL" if v is None else _quote(json.dumps(v))


@lru_cache(maxsize=256)
def _renderer(table: Table, columns: tuple[str, ...]) -> Callable[[dict[str, Any]], str]:
    """One row's ``(v1,v2,...)``, as a function generated for these columns (the way ``namedtuple`` builds its
    class): each value goes straight to its column's converter, with no loop or zip per value. A plain column's
    ints and strings (most values) are written inline, without even that call; the rest go to ``_plain``."""
    scope: dict[str, Any] = {"E": _ESCAPES}
    parts = []
    for i, name in enumerate(columns):
        kind = table.c[name].type
        if isinstance(kind, TypeDecorator):
            scope[f"f{i}"] = _decorated(kind)
            parts.append(f"f{i}(r[{name!r}])")
        elif isinstance(kind, JSON):
            scope[f"f{i}"] = _json
            parts.append(f"f{i}(r[{name!r}])")
        else:
            scope[f"f{i}"] = _plain
            parts.append(
                f"(str(v) if (t := type(v := r[{name!r}])) is int"
                f' else "\'" + v.translate(E) + "\'" if t is str else f{i}(v))'
            )
    code = "def render(r):\n    return '(' + " + " + ',' + ".join(parts) + " + ')'\n"
    exec(code, scope)
    render: Callable[[dict[str, Any]], str] = scope["render"]
    return render


@lru_cache(maxsize=256)
def _defaults(table: Table) -> dict[str, Any]:
    """Columns with a Python-side default (``default=0``): SQLAlchemy fills them itself, a literal statement
    must too. Callable defaults (``utcnow``) are evaluated per statement in :func:`_filled`."""
    out: dict[str, Any] = {}
    for col in table.c:
        d = col.default
        if d is not None and (d.is_scalar or d.is_callable):
            out[col.name] = d
    return out


def _filled(table: Table, rows: Sequence[dict[str, Any]]) -> tuple[tuple[str, ...], Sequence[dict[str, Any]]]:
    """Every column any row names plus the defaulted ones, and the rows completed with those defaults."""
    named = dict.fromkeys(rows[0])
    for r in rows:
        if len(r) != len(named) or r.keys() != named.keys():
            named.update(dict.fromkeys(r))
    spec = _defaults(table)
    for name in spec:
        named.setdefault(name)
    columns = tuple(named)
    if all(len(r) == len(columns) for r in rows):
        return columns, rows
    defaults = {name: d.arg if d.is_scalar else d.arg(None) for name, d in spec.items()}
    return columns, [r if len(r) == len(columns) else {**defaults, **r} for r in rows]


def _values(table: Table, columns: tuple[str, ...], rows: Sequence[dict[str, Any]]) -> str:
    """A missing value with no default raises ``KeyError`` naming the column."""
    return ",".join(map(_renderer(table, columns), rows))


def _insert_sql(table: Table, rows: Sequence[dict[str, Any]], verb: str = "INSERT") -> str:
    columns, full = _filled(table, rows)
    names = ",".join(f"`{c}`" for c in columns)
    return f"{verb} INTO `{table.name}` ({names}) VALUES {_values(table, columns, full)}"


def _run(conn: Connection, sql: str) -> CursorResult[Any]:
    """A literal statement, sent as is: no parameters, so a ``%`` in a value is not taken for a placeholder."""
    return conn.exec_driver_sql(sql, execution_options={"no_parameters": True})


def _mariadb(session: Session) -> Connection | None:
    """The session's connection when it is MariaDB's, asked for once per statement (each ``Session.connection()``
    walks the ORM's transaction state: a fifth of a literal insert's own cost on a single POST); None on SQLite."""
    conn = session.connection()
    return conn if conn.dialect.name in ("mysql", "mariadb") else None


def insert_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, returning_ids: bool = False
) -> list[int]:
    """Insert rows in one statement; with ``returning_ids`` the new ids in the rows' order.

    MariaDB renders the VALUES list literally (see above); the embedded SQLite goes through SQLAlchemy.
    """
    if not rows:
        return []
    conn = _mariadb(session)
    if conn is None:
        if returning_ids:
            stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            return list(session.scalars(stmt, list(rows)).all())
        session.execute(insert(table), list(rows))
        return []
    sql = _insert_sql(table, rows)
    if not returning_ids:
        _run(conn, sql)
        return []
    step = _consecutive_step(conn)
    if step:  # the first id comes back in the OK packet: no result set of ids to read
        result = _run(conn, sql)
        first = result.lastrowid
        if result.rowcount == len(rows) and first:
            return [first + i * step for i in range(len(rows))]
        raise RuntimeError(f"INSERT into {table.name} reported {result.rowcount} rows for {len(rows)}")
    # one statement's auto-increment ids grow in the order of its VALUES rows
    return sorted(i for (i,) in _run(conn, sql + " RETURNING id"))


def insert_ignore(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the rows whose key is free, skip the others; how many were inserted (-1: not known, SQLite)."""
    if not rows:
        return 0
    conn = _mariadb(session)
    if conn is None:
        session.execute(sqlite_insert(table).on_conflict_do_nothing(), list(rows))
        return -1
    return _run(conn, _insert_sql(table, rows, "INSERT IGNORE")).rowcount


def _consecutive_step(conn: Connection) -> int:
    """The id step of one multi-row INSERT's rows, when the server guarantees they are consecutive; else 0.

    InnoDB gives a "simple insert" (its row count known up front) a run of consecutive auto-increment values in
    the traditional (0) and consecutive (1, MariaDB's default) lock modes, spaced by ``auto_increment_increment``;
    the interleaved mode (2, Galera) does not promise it, and then ``RETURNING`` is read instead. Asked once per
    pooled connection (the increment is a session variable) and kept in its ``info``.
    """
    if "id_step" not in conn.info:
        mode, increment = conn.exec_driver_sql("SELECT @@innodb_autoinc_lock_mode, @@auto_increment_increment").one()
        conn.info["id_step"] = int(increment) if int(mode) in (0, 1) else 0
    return int(conn.info["id_step"])


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
    rows = sorted(rows, key=itemgetter(*keys))  # one lock order for every writer
    conn = _mariadb(session)
    if conn is not None:
        clauses = [f"`{c}`=`{c}`+VALUES(`{c}`)" for c in add]
        clauses += [f"`{c}`=VALUES(`{c}`)" for c in replace]
        clauses += [f"`{c}`=LEAST(COALESCE(`{c}`,VALUES(`{c}`)),VALUES(`{c}`))" for c in least]
        if not clauses:
            clauses = [f"`{keys[0]}`=`{keys[0]}`"]
        _run(conn, _insert_sql(table, rows) + f" ON DUPLICATE KEY UPDATE {','.join(clauses)}")
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
