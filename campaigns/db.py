"""Engine construction shared by the web app, the workers and the scripts."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import Pool

from campaigns.clock import utcnow
from campaigns.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# Lock wait timeout, deadlock: InnoDB rolled the whole transaction back. 1305 (savepoint does not exist) is how a
# deadlock inside a savepoint surfaces when the savepoint's own rollback runs afterwards.
TRANSIENT_MYSQL = frozenset({1205, 1213, 1305})
LOCK_WAIT_TIMEOUT = 1205


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets the embedded in-process worker write while the web thread reads.

    pysqlite's own transaction handling is switched off (``isolation_level = None``) so that the transaction is
    opened here, as ``BEGIN IMMEDIATE`` (below; after SQLAlchemy's documented pysqlite recipe).
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


# A pooled connection idle longer than this is pinged before use; one used more recently is handed out as is.
PING_AFTER_IDLE_SECONDS = 1.0


@event.listens_for(Pool, "checkin")
def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Pessimistic disconnect handling, without a round trip per checkout (``pool_pre_ping`` pings every time:
    one of a known customer's six round trips per POST). A connection back in the pool within the last
    ``PING_AFTER_IDLE_SECONDS`` was working a moment ago and goes out unpinged, as HikariCP's
    ``aliveBypassWindowMs``; an older one is pinged, and a dead one is replaced (``DisconnectionError`` makes the
    pool connect afresh). A server restart inside that second fails the one request that meets it (503, as any
    outage), and SQLAlchemy then invalidates the whole pool, so the next requests connect afresh."""
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
        return
    if isinstance(dbapi_connection, sqlite3.Connection):
        return
    try:
        dbapi_connection.ping(False)  # PyMySQL: COM_PING, no reconnect (the pool replaces the connection)
    except Exception as exc:
        raise DisconnectionError(str(exc)) from exc


READS = ("SELECT", "PRAGMA", "EXPLAIN")


@event.listens_for(Engine, "before_cursor_execute")
def _sqlite_write_lock(
    conn: Connection, cursor: Any, statement: str, _params: Any, context: Any, _executemany: bool
) -> None:
    """One writer at a time: a transaction takes SQLite's write lock (``BEGIN IMMEDIATE``, waiting up to the busy
    timeout, ``connect_args["timeout"]`` in ``Settings.engine_options``) before its first write.

    A deferred transaction that read and then writes cannot wait for the lock: if another connection committed
    in between, SQLite answers ``database is locked`` at once (its snapshot is stale), which is how the web
    threads lost inserts to the in-process queue's credits. Reads before the first write run outside the lock,
    as under MariaDB's READ COMMITTED, so a thread reading on one session never blocks its own writes on
    another; ``SELECT ... FOR UPDATE`` (which SQLite does not spell) takes the lock like a write.
    """
    if conn.dialect.name != "sqlite" or cursor.connection.in_transaction:
        return
    compiled = getattr(context, "compiled", None)
    for_update = getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None
    if for_update or not statement.lstrip()[:7].upper().startswith(READS):
        cursor.connection.execute("BEGIN IMMEDIATE")


def make_engine(settings: Settings, *, lock_wait_seconds: int = 0) -> Engine:
    """The engine of ``settings`` (its sessions' variables: ``Settings.engine_options``); a positive
    ``lock_wait_seconds`` bounds how long its transactions wait on a row lock (MariaDB)."""
    return create_engine(settings.database_url, **settings.engine_options(lock_wait_seconds=lock_wait_seconds))


def error_code(exc: OperationalError) -> Any:
    """The driver's first argument: MySQL's errno, or SQLite's message."""
    return exc.orig.args[0] if exc.orig is not None and exc.orig.args else None


def is_transient(exc: BaseException) -> bool:
    """The database gave up on this transaction for another's sake: nothing was committed, so running it again is
    safe and will likely succeed (an InnoDB deadlock or lock wait, or SQLite's "database is locked")."""
    if not isinstance(exc, OperationalError):
        return False
    code = error_code(exc)
    if isinstance(code, str):  # sqlite3 puts the message where MySQL drivers put the errno
        return "locked" in code  # "database is locked", "database table is locked"
    return code in TRANSIENT_MYSQL


def is_lock_wait(exc: BaseException) -> bool:
    """MariaDB gave up waiting for a row lock (``innodb_lock_wait_timeout``): another transaction holds it, maybe
    for long (one whose client was cut off holds it until ``idle_transaction_timeout``)."""
    return isinstance(exc, OperationalError) and error_code(exc) == LOCK_WAIT_TIMEOUT


def retry_transient(
    work: Callable[[], T],
    *,
    attempts: int = 4,
    backoff: float = 0.02,
    cleanup: Callable[[], None] | None = None,
    lock_waits: bool = True,
) -> T:
    """Run ``work`` (one whole transaction) again after a transient database error, sleeping ``backoff`` x the
    attempt number in between; ``cleanup`` runs after every database error (e.g. rolling back a shared session).
    ``lock_waits=False``: a lock wait timeout is raised at once (it already waited; waiting again in place would
    only block the caller longer), deadlocks are still retried."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except OperationalError as exc:
            if cleanup is not None:
                cleanup()
            if not is_transient(exc) or attempt == attempts or (not lock_waits and is_lock_wait(exc)):
                raise
            log.warning("retrying after transient database error %s (attempt %d)", error_code(exc), attempt)
            time.sleep(backoff * attempt)
    raise AssertionError("unreachable")


# --- the read replica -------------------------------------------------------------------------------------------

HEARTBEAT = "replica_heartbeat_ms"  # a ``counters`` row: the primary's last beat, milliseconds since the epoch
BEAT_EVERY_SECONDS = 1.0  # a process writes the beat at most this often
GTID_WAIT_SECONDS = 0.1  # how long a read waits for the replica to reach the primary's position before measuring
RETRY_DOWN_SECONDS = 10.0  # after a failed replica connection, reads go to the primary for this long


@dataclass(frozen=True)
class Freshness:
    """Where a heavy read was served from and how old its data may be.

    ``as_of``: every transaction the primary committed before it is in the data read (``now`` when the replica had
    caught up, the last heartbeat the replica applied when it had not). ``reason``: ``caught_up``, ``behind``,
    ``lag_above_bound``, ``replica_down``, ``no_heartbeat`` or ``primary`` (no replica configured).
    """

    source: str
    as_of: datetime
    lag_seconds: float
    reason: str

    @property
    def on_replica(self) -> bool:
        return self.source == "replica"


def replica_engine_options(settings: Settings) -> dict[str, Any]:
    """The primary's options with a short connect timeout: a dead replica must cost a read little before it falls
    back to the primary."""
    options = settings.engine_options()
    options["connect_args"] = {**options.get("connect_args", {}), "connect_timeout": 2}
    return options


def write_heartbeat(db: Connection | Session, at: datetime) -> None:
    """Record on the primary that everything committed before ``at`` is in the binary log ahead of this row; a
    replica that shows the row holds all of it. The caller commits. Never moves back (hosts' clocks differ)."""
    db.execute(
        text(
            "INSERT INTO counters (name, value) VALUES (:name, :ms)"
            " ON DUPLICATE KEY UPDATE value = GREATEST(value, VALUES(value))"
        ),
        {"name": HEARTBEAT, "ms": int(at.timestamp() * 1000)},
    )


class ReadReplica:
    """Heavy reads (dashboards, analytics, reports, simulation replays, exports) on a MariaDB replica.

    Not Flask-SQLAlchemy binds: binds route by table, and the same tables are read from the primary by the write
    paths. A second engine and a read-only session factory instead: every replica connection runs ``SET SESSION
    TRANSACTION READ ONLY`` when it opens, so a write through it fails (MariaDB error 1792) rather than landing on
    the replica. Callers ask :meth:`route` once per request: it measures the replica and answers the session to read
    from, the replica's or ``None`` (read the primary), with its :class:`Freshness`.

    Lag is measured, not trusted from ``Seconds_Behind_Master``: the primary's ``@@gtid_binlog_pos`` is read and the
    replica waits up to ``GTID_WAIT_SECONDS`` for it (``MASTER_GTID_WAIT``); reached, the replica holds every commit
    made before the read began (lag 0). Not reached, the data is as old as the last heartbeat the replica applied: a
    ``counters`` row each web process writes on the primary at most once a second while it routes reads, and each
    worker every second (``workers.sweeper.HeartbeatThread``) when the setting is given to the workers too. Above
    ``max_lag_seconds``, with no heartbeat, or when the replica cannot be reached (then for ``RETRY_DOWN_SECONDS``),
    reads go to the primary. The replica must replicate the primary with GTID (MariaDB); the primary too is MariaDB.
    """

    def __init__(
        self,
        primary: Engine,
        replica: Engine,
        *,
        max_lag_seconds: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.max_lag_seconds = max_lag_seconds
        self.clock = clock
        self.sessions: sessionmaker[Session] = sessionmaker(bind=replica, expire_on_commit=False, autoflush=False)
        self._lock = threading.Lock()
        self._last_beat = 0.0
        self._down_until = 0.0
        event.listen(replica, "connect", _read_only)

    @classmethod
    def from_settings(cls, settings: Settings, primary: Engine) -> ReadReplica | None:
        if not settings.database_replica_url:
            return None
        if primary.dialect.name != "mysql":
            raise ValueError("LOYALTY_DATABASE_REPLICA_URL needs a MariaDB primary (LOYALTY_DATABASE_URL) with GTIDs")
        replica = create_engine(settings.database_replica_url, **replica_engine_options(settings))
        return cls(primary, replica, max_lag_seconds=settings.replica_max_lag_seconds)

    def beat(self, *, force: bool = False) -> None:
        """Write the heartbeat on the primary (at most once per ``BEAT_EVERY_SECONDS`` in this process)."""
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_beat < BEAT_EVERY_SECONDS:
                return
            self._last_beat = now
        with self.primary.begin() as conn:
            write_heartbeat(conn, self.clock())

    def measure(self) -> Freshness:
        """How far behind the primary the replica is now (see the class docstring)."""
        now = self.clock()
        if time.monotonic() < self._down_until:
            return Freshness("primary", now, 0.0, "replica_down")
        with self.primary.connect() as conn:
            position = str(conn.scalar(text("SELECT @@gtid_binlog_pos")) or "")
        self.beat()
        try:
            with self.replica.connect() as conn:
                row = conn.execute(
                    text("SELECT MASTER_GTID_WAIT(:pos, :wait), (SELECT value FROM counters WHERE name = :name)"),
                    {"pos": position, "wait": GTID_WAIT_SECONDS, "name": HEARTBEAT},
                ).one()
        except DBAPIError:
            log.warning("read replica unreachable: heavy reads go to the primary for %d s", RETRY_DOWN_SECONDS)
            self._down_until = time.monotonic() + RETRY_DOWN_SECONDS
            return Freshness("primary", now, 0.0, "replica_down")
        reached, beat_ms = row
        if position and reached == 0:
            return Freshness("replica", now, 0.0, "caught_up")
        if beat_ms is None:
            return Freshness("primary", now, 0.0, "no_heartbeat")
        as_of = datetime.fromtimestamp(int(beat_ms) / 1000, UTC)
        lag = max(0.0, (now - as_of).total_seconds())
        if lag > self.max_lag_seconds:
            return Freshness("primary", now, 0.0, "lag_above_bound")
        return Freshness("replica", as_of, lag, "behind")

    def route(self) -> tuple[Session | None, Freshness]:
        """A read-only replica session and its freshness, or ``None`` (read the primary) and why."""
        fresh = self.measure()
        return (self.sessions() if fresh.on_replica else None), fresh


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    """Every replica connection refuses writes, whatever the code that holds it tries."""
    cur = dbapi_connection.cursor()
    cur.execute("SET SESSION TRANSACTION READ ONLY")
    cur.close()
