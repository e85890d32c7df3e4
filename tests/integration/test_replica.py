"""Heavy reads on a real MariaDB replica: the reads land there, lag is stated, and too much lag or a dead replica
sends them to the primary.

The shared server on 3306 runs without a binary log (and its configuration is not ours to change), so the fixture
starts its own pair: a primary with ``log-bin`` and a replica following it by GTID (``MASTER_USE_GTID=slave_pos``),
each a private ``mariadbd`` on a free port with its datadir under /tmp, both removed afterwards.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis

from campaigns.db import ReadReplica
from tests.helpers.api import publish, run_worker, txn
from tests.helpers.documents import BASE_EARNING
from tests.helpers.factories import ProviderKey, make_provider, make_staff_key, make_user
from tests.helpers.passwords import use_light_password_hashing
from tests.helpers.services import REDIS_URL, settings_for_tests
from tests.helpers.web import EnglishClient, login
from tests.integration.test_faults import free_port, wait_until

pytestmark = pytest.mark.slow  # two private mariadbd, a schema migrated from nothing, lag waited for in real time

MARIADBD = Path("/usr/sbin/mariadbd")
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
DATABASE = "loyalty_replica"
NOTICE_SECONDS = 2  # the test app announces lag above this (production default: 5)


@dataclass
class MariaServer:
    """A private ``mariadbd``: its own datadir, port and socket; root over the socket, the app over TCP."""

    base: Path
    name: str
    server_id: int
    extra: list[str] = field(default_factory=list)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def datadir(self) -> Path:
        return self.base / self.name

    @property
    def socket(self) -> str:
        return str(self.base / f"{self.name}.sock")

    def install(self) -> None:
        subprocess.run(
            [
                INSTALL_DB,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--user=root",
            ],
            check=True,
            capture_output=True,
        )
        self.port = free_port()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                str(MARIADBD),
                "--no-defaults",
                "--user=root",
                f"--datadir={self.datadir}",
                f"--port={self.port}",
                f"--socket={self.socket}",
                f"--pid-file={self.base / self.name}.pid",
                f"--log-error={self.base / self.name}.err",
                f"--server-id={self.server_id}",
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--performance-schema=OFF",
                "--innodb-buffer-pool-size=64M",
                "--innodb-flush-log-at-trx-commit=2",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, 60, f"mariadbd {self.name} on port {self.port}")

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            log = (self.base / f"{self.name}.err").read_text(errors="replace")[-2000:]
            raise AssertionError(f"mariadbd {self.name} exited: {log}")
        try:
            self.sql("SELECT 1")
        except pymysql.MySQLError:
            return False
        return True

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        """One statement as root over the unix socket (autocommit)."""
        conn = pymysql.connect(unix_socket=self.socket, user="root", autocommit=True, connect_timeout=2)
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
                return list(cur.fetchall())
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def url(self) -> str:
        return f"mysql+pymysql://loyalty:loyalty@127.0.0.1:{self.port}/{DATABASE}?charset=utf8mb4"


@dataclass
class Pair:
    primary: MariaServer
    replica: MariaServer

    def caught_up(self) -> bool:
        (position,) = self.primary.sql("SELECT @@gtid_binlog_pos")[0]
        ((reached,),) = self.replica.sql(f"SELECT MASTER_GTID_WAIT('{position}', 0.5)")
        return bool(reached == 0)

    def pause(self) -> None:
        """Stop applying the primary's changes (the replica keeps fetching them): the replica falls behind."""
        self.replica.sql("STOP SLAVE SQL_THREAD")

    def resume(self) -> None:
        self.replica.sql("START SLAVE SQL_THREAD")
        wait_until(self.caught_up, 60, "the replica to catch up")


@pytest.fixture(scope="session")
def pair() -> Iterator[Pair]:
    if not MARIADBD.exists() or not Path(INSTALL_DB).exists():
        pytest.skip(f"needs {MARIADBD} and mariadb-install-db to start a private primary and replica")
    base = Path(tempfile.mkdtemp(prefix="loyalty-replica-"))
    primary = MariaServer(base, "primary", 1, ["--log-bin=primary-bin", "--binlog-format=ROW", "--sync-binlog=0"])
    replica = MariaServer(base, "replica", 2, ["--read-only=1", "--relay-log=replica-relay"])
    try:
        primary.install()
        replica.install()
        primary.start()
        replica.start()
        for statement in (
            "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl'",
            "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'",
            "CREATE USER 'loyalty'@'127.0.0.1' IDENTIFIED BY 'loyalty'",
            f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            f"GRANT ALL ON {DATABASE}.* TO 'loyalty'@'127.0.0.1'",
        ):
            primary.sql(statement)
        replica.sql(
            f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, MASTER_USER='repl', "
            "MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos"
        )
        replica.sql("START SLAVE")
        p = Pair(primary, replica)
        wait_until(p.caught_up, 60, "the replica to copy the primary's users and database")
        yield p
    finally:
        replica.stop()
        primary.stop()
        shutil.rmtree(base, ignore_errors=True)


def _app(pair: Pair, **overrides: Any) -> Flask:
    from webapp import create_app

    values: dict[str, Any] = {
        "database_url": pair.primary.url(),
        "database_replica_url": pair.replica.url(),
        "replica_max_lag_seconds": 30,
        "replica_notice_seconds": NOTICE_SECONDS,
        **overrides,
    }
    app = create_app(settings_for_tests(**values), TESTING=True)
    app.test_client_class = EnglishClient
    return app


@dataclass
class World:
    app: Flask
    client: FlaskClient
    telecom: ProviderKey
    staff: dict[str, str]


@pytest.fixture(scope="session")
def world(pair: Pair) -> World:
    """The app on the private primary (schema migrated there, replicated from it) with a provider, a published
    campaign, an admin signed in and a first transaction credited."""
    from webapp.extensions import recreate_schema

    use_light_password_hashing()
    Redis.from_url(REDIS_URL).flushdb()
    app = _app(pair)
    with app.app_context():
        recreate_schema()
    telecom = make_provider(app, "telecom", "Mobile operator")
    staff = make_staff_key(app)
    make_user(app, "admin@test.vn", "admin")
    client = app.test_client()
    publish(client, staff, BASE_EARNING)
    assert login(client, "admin@test.vn").status_code == 302
    w = World(app, client, telecom, staff)
    credit(w, "R-1")
    wait_until(pair.caught_up, 60, "the replica to copy the schema and the first credit")
    return w


def credit(w: World, ref: str) -> int:
    """A 150,000 VND top-up (15 points) posted, then credited by a real RQ worker, on the primary."""
    resp = w.client.post("/api/v1/transactions", json=txn(ref), headers=w.telecom.headers)
    assert resp.status_code == 202, resp.get_json()
    run_worker(w.app)
    tid: int = resp.get_json()["id"]
    return tid


def liability(client: FlaskClient, staff: dict[str, str]) -> tuple[int, Any]:
    resp = client.get("/api/v1/settlement/liability", headers=staff)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["total"]["closing_points"], resp.headers


def credited_on_dashboard(client: FlaskClient) -> tuple[int, Any]:
    resp = client.get("/dashboard.csv?table=providers")
    assert resp.status_code == 200
    row = resp.get_data(as_text=True).splitlines()[1].split(",")
    return int(row[2]), resp.headers


def test_caught_up_replica_serves_reports_with_no_lag(pair: Pair, world: World) -> None:
    points, headers = liability(world.client, world.staff)
    assert headers["X-Data-Source"] == "replica"
    assert headers["X-Data-Lag-Seconds"] == "0"
    assert points == 15 * _credited(world)
    page = world.client.get("/")
    assert page.headers["X-Data-Source"] == "replica"
    assert "Data as of" not in page.get_data(as_text=True)
    # a write path's read carries no such header: it read the primary as always
    assert "X-Data-Source" not in world.client.get("/api/v1/transactions/1", headers=world.telecom.headers).headers


def _credited(w: World) -> int:
    from sqlalchemy import func, select

    from campaigns.models import Transaction
    from webapp.extensions import db

    with w.app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Transaction).where(Transaction.status == "processed"))
        db.session.remove()
    return int(n or 0)


def test_lagging_replica_shows_the_older_figure_and_says_how_old(pair: Pair, world: World) -> None:
    before, _ = liability(world.client, world.staff)  # measured now: the replica's heartbeat is this moment
    count_before, _ = credited_on_dashboard(world.client)
    pair.pause()
    try:
        tid = credit(world, "R-LAG")
        time.sleep(NOTICE_SECONDS + 1.5)
        # the report still reads the replica: the figure from before the credit, with its age
        points, headers = liability(world.client, world.staff)
        assert headers["X-Data-Source"] == "replica" and headers["X-Data-Reason"] == "behind"
        assert points == before
        lag = int(headers["X-Data-Lag-Seconds"])
        assert NOTICE_SECONDS < lag <= 30
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", headers["X-Data-As-Of"])
        count, headers = credited_on_dashboard(world.client)
        assert count == count_before and headers["X-Data-Source"] == "replica"
        page = world.client.get("/").get_data(as_text=True)
        assert re.search(r"Data as of \d\d:\d\d:\d\d \S+ \((\d+) s behind\)", page), page[:3000]
        # the write path reads the primary: the new credit is there
        view = world.client.get(f"/api/v1/transactions/{tid}", headers=world.telecom.headers).get_json()
        assert view["status"] == "processed" and view["points"] == 15
        # and the replica session really is the replica's: a direct look agrees with the report, not the primary
        rr: ReadReplica = world.app.extensions["loyalty.replica"]
        with rr.sessions() as s:
            from sqlalchemy import text

            assert s.scalar(text("SELECT COUNT(*) FROM transactions WHERE id = :id"), {"id": tid}) == 0
            assert s.scalar(text("SELECT @@server_id")) == 2
    finally:
        pair.resume()
    points, headers = liability(world.client, world.staff)
    assert headers["X-Data-Source"] == "replica" and headers["X-Data-Lag-Seconds"] == "0"
    assert points == before + 15
    assert "Data as of" not in world.client.get("/").get_data(as_text=True)


def test_lag_above_the_bound_reads_the_primary(pair: Pair, world: World) -> None:
    strict = _app(pair, replica_max_lag_seconds=NOTICE_SECONDS)
    strict_client = strict.test_client()
    assert login(strict_client, "admin@test.vn").status_code == 302
    before, headers = liability(strict_client, world.staff)
    assert headers["X-Data-Source"] == "replica"
    pair.pause()
    try:
        credit(world, "R-BOUND")
        time.sleep(NOTICE_SECONDS + 1.5)
        # past the strict app's bound: its reports read the primary and show the new figure, with no notice
        points, headers = liability(strict_client, world.staff)
        assert headers["X-Data-Source"] == "primary" and headers["X-Data-Reason"] == "lag_above_bound"
        assert headers["X-Data-Lag-Seconds"] == "0"
        assert points == before + 15
        assert "Data as of" not in strict_client.get("/").get_data(as_text=True)
        # within the default bound (30 s) the same moment is still served from the replica, older and announced
        points, headers = liability(world.client, world.staff)
        assert headers["X-Data-Source"] == "replica" and points == before
    finally:
        pair.resume()


def test_replica_session_refuses_writes(world: World) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    rr: ReadReplica = world.app.extensions["loyalty.replica"]
    with rr.sessions() as s:
        # the app's own guard, whatever the server's read_only (a replica set up without it, or a SUPER user)
        assert s.scalar(text("SELECT @@session.tx_read_only")) == 1
        with pytest.raises(OperationalError) as err:
            s.execute(text("INSERT INTO counters (name, value) VALUES ('written-on-the-replica', 1)"))
    # 1792: a READ ONLY transaction; 1290: the server's --read-only (which the test replica also runs with)
    assert err.value.orig is not None and err.value.orig.args[0] in (1792, 1290)


def test_workers_beat_every_second_when_a_replica_is_configured(pair: Pair, world: World) -> None:
    from workers.sweeper import HeartbeatThread

    rt = world.app.extensions["loyalty.runtime"]
    assert rt.replica_heartbeat

    def beat_ms() -> int:
        rows = pair.primary.sql(f"SELECT value FROM {DATABASE}.counters WHERE name = 'replica_heartbeat_ms'")
        return int(rows[0][0]) if rows else 0

    before = beat_ms()
    thread = HeartbeatThread(rt, every=0.2)
    thread.start()
    try:
        wait_until(lambda: beat_ms() > before, 10, "a worker heartbeat")
        assert abs(beat_ms() / 1000 - time.time()) < 2
    finally:
        thread.stopped.set()
        thread.join(5)


def test_replica_down_reads_the_primary(pair: Pair, world: World) -> None:
    before, _ = liability(world.client, world.staff)
    pair.replica.stop()
    try:
        credit(world, "R-DOWN")
        started = time.monotonic()
        points, headers = liability(world.client, world.staff)
        assert headers["X-Data-Source"] == "primary" and headers["X-Data-Reason"] == "replica_down"
        assert points == before + 15
        assert world.client.get("/dashboard.csv?table=providers").status_code == 200
        assert time.monotonic() - started < 10  # a refused connection, then the primary: no long wait
        page = world.client.get("/")
        assert page.status_code == 200 and page.headers["X-Data-Source"] == "primary"
    finally:
        pair.replica.start()
        pair.resume()
