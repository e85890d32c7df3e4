"""Two web hosts and two worker hosts in network namespaces; one worker host is cut off mid-load.

Each host is a network namespace (``ip netns``) with one veth into a switch namespace (a Linux bridge of its
own, so the machine's firewall never sees the traffic), addresses in a private /24 that nothing else on the
machine uses. A "db" host runs the test's own ``mariadbd`` (a throwaway datadir from ``mariadb-install-db``)
and ``redis-server`` on their standard ports; two hosts run ``gunicorn wsgi:app``, two ``flask worker``.
Provider clients in the root namespace post single and batch transactions to both web hosts; mid-load, while
one worker host is inside a partition drain with ids in flight, its link goes down (a partition: its
processes keep running, their packets go nowhere), the load goes on past the partition locks' lifetime, a
sweep, the crediting lock wait and the idle-transaction timeout the application sets on its sessions (the
test's ``mariadbd`` runs with the server's defaults), then the link comes back.

The cut lands inside the host's crediting transaction (it holds row locks on the server): the other worker
host takes the partition over, finds those rows locked, leaves the batch in flight after
``LOYALTY_CREDIT_LOCK_WAIT_SECONDS`` and credits the other partitions meanwhile; once the server has rolled the
silent transaction back (``LOYALTY_DB_IDLE_TRANSACTION_SECONDS``) it credits the batch. Most of what was
acknowledged during the cut is credited before the link returns.

At the end every acknowledged transaction is credited exactly once with the points the campaigns give when
each customer's transactions are credited in id order (a base rate, and a bonus on the first transaction
with each provider, which lands on the wrong one if a later transaction overtakes), each customer's ledger
entries follow the order of their transactions, the other worker host recovered the cut one's in-flight ids,
and ``flask ledger check`` exits 0.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from redis import Redis
from rq import Worker
from sqlalchemy import bindparam, create_engine, text

from tests.helpers.documents import FIRST_BONUS, FIRST_WITH_PROVIDER
from workers.queues import inflight_key

pytestmark = pytest.mark.slow  # namespaces, its own MariaDB and Redis, five hosts of subprocesses, ~90 s

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 8
CUT_SECONDS = 35
BASE_EARNING = {
    "name": "Base earning",
    "rules": [
        {
            "name": "1 point per 10k",
            "conditions": {"all": [{"name": "amount", "operator": "greater_than_or_equal_to", "value": 10000}]},
            "actions": [{"name": "award_points_per_amount", "params": {"points": 1, "per": 10000}}],
        }
    ],
}


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def _netns_refusal() -> str | None:
    """Why network namespaces are not permitted here (making one, or running a command in it), or None."""
    probe = f"lhprobe{secrets.token_hex(3)}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` is not permitted here: {made.stderr.strip()}"
    try:
        ran = _ip("netns", "exec", probe, "true", check=False)
        if ran.returncode != 0:
            return f"`ip netns exec` is not permitted here: {ran.stderr.strip()}"
        return None
    finally:
        _ip("netns", "del", probe, check=False)


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.200.0.0/16 that no interface of the machine is on (a second run beside this one, say)."""
    used = _ip("-4", "-o", "addr").stdout + _ip("-4", "route").stdout
    for k in range(256):
        net = ipaddress.IPv4Network(f"10.200.{k}.0/24")
        if f"10.200.{k}." not in used:
            return net
    raise AssertionError("no free /24 in 10.200.0.0/16")


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(0.2)


@dataclass
class Cluster:
    """Namespaces, links, processes and the datadir of one run; ``close`` undoes all of it."""

    logs: Path
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: ipaddress.IPv4Network = field(default_factory=_free_subnet)
    namespaces: list[str] = field(default_factory=list)
    root_links: list[str] = field(default_factory=list)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    datadir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="loyalty-hosts-db-"))

    def addr(self, host: int) -> str:
        return str(self.subnet.network_address + host)

    @property
    def switch(self) -> str:
        return f"lh{self.tag}sw"

    def build(self, hosts: dict[str, int]) -> None:
        """The switch namespace with its bridge, the root namespace's port on it (.1), one namespace per host."""
        _ip("netns", "add", self.switch)
        self.namespaces.append(self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        self._port(None, "root", 1)
        for name, host in hosts.items():
            ns = f"lh{self.tag}{name}"
            _ip("netns", "add", ns)
            self.namespaces.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            self._port(ns, name, host)

    def _port(self, ns: str | None, name: str, host: int) -> None:
        """A veth pair: ``eth0`` in the host's namespace (the root's end keeps its name), the other end on the
        bridge, named ``<name>`` in the switch namespace."""
        end = f"lh{self.tag}{name}"[:15]
        _ip("link", "add", end, "type", "veth", "peer", "name", f"{end}p"[:15])
        _ip("link", "set", f"{end}p"[:15], "netns", self.switch)
        _ip("-n", self.switch, "link", "set", f"{end}p"[:15], "name", name)
        _ip("-n", self.switch, "link", "set", name, "master", "br0")
        _ip("-n", self.switch, "link", "set", name, "up")
        if ns is None:
            self.root_links.append(end)
            _ip("addr", "add", f"{self.addr(host)}/{self.subnet.prefixlen}", "dev", end)
            _ip("link", "set", end, "up")
        else:
            _ip("link", "set", end, "netns", ns)
            _ip("-n", ns, "link", "set", end, "name", "eth0")
            _ip("-n", ns, "addr", "add", f"{self.addr(host)}/{self.subnet.prefixlen}", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def cut(self, name: str) -> None:
        """The host's cable pulled at the switch: no packet in or out, its processes untouched."""
        _ip("-n", self.switch, "link", "set", name, "down")

    def restore(self, name: str) -> None:
        _ip("-n", self.switch, "link", "set", name, "up")

    def start(self, host: str, argv: list[str], env: dict[str, str], name: str = "") -> subprocess.Popen[bytes]:
        """``argv`` in ``host``'s namespace, in a session of its own (its process group is killed at the end);
        its output in ``<name or host>.log``."""
        name = name or host
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", f"lh{self.tag}{host}", *argv],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def close(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
        for ns in reversed(self.namespaces):  # the veths go with their namespaces
            _ip("netns", "del", ns, check=False)
        for link in self.root_links:
            _ip("link", "del", link, check=False)
        shutil.rmtree(self.datadir, ignore_errors=True)


def _start_mariadb(cluster: Cluster, ip: str) -> str:
    """A throwaway ``mariadbd`` on ``ip``:3306 in the db namespace, with the ``loyalty`` user and database."""
    datadir = Path(cluster.datadir)
    install = subprocess.run(
        [
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={datadir / 'data'}",
            "--user=root",
            "--skip-test-db",
            "--auth-root-authentication-method=socket",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    sock = str(datadir / "mariadb.sock")
    cluster.start(
        "db",
        [
            "/usr/sbin/mariadbd",
            "--no-defaults",
            f"--datadir={datadir / 'data'}",
            f"--socket={sock}",
            f"--pid-file={datadir / 'mariadb.pid'}",
            f"--bind-address={ip}",
            "--port=3306",
            "--user=root",
            "--skip-log-bin",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=128M",
            f"--log-error={cluster.logs / 'mariadbd.err'}",
        ],
        dict(os.environ),
        name="mariadbd",
    )
    sql = (
        "CREATE DATABASE loyalty CHARACTER SET utf8mb4; CREATE USER 'loyalty'@'%' IDENTIFIED BY 'loyalty'; "
        "GRANT ALL ON loyalty.* TO 'loyalty'@'%';"
    )

    def ready() -> bool:
        ping = subprocess.run(["mariadb", "--no-defaults", "-S", sock, "-uroot", "-e", "SELECT 1"], capture_output=True)
        return ping.returncode == 0

    _wait(ready, 60, f"the test's mariadbd (log: {cluster.logs / 'mariadbd.err'})")
    subprocess.run(["mariadb", "--no-defaults", "-S", sock, "-uroot", "-e", sql], check=True, timeout=30)
    return f"mysql+pymysql://loyalty:loyalty@{ip}:3306/loyalty?charset=utf8mb4"


def _flask(env: dict[str, str], *args: str) -> str:
    """A ``flask --app wsgi`` command from the root namespace, across the switch to the db host."""
    out = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, f"flask {' '.join(args)}: {out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[tuple[Cluster, dict[str, str]]]:
    for tool in ("ip", "mariadb-install-db", "mariadb", "redis-server"):
        assert shutil.which(tool), f"{tool} is needed (bin/test installs iproute2, mariadb-server and redis-server)"
    if (why := _netns_refusal()) is not None:
        pytest.skip(why)
    c = Cluster(logs=tmp_path)
    try:
        c.build({"db": 2, "web1": 11, "web2": 12, "wrk1": 21, "wrk2": 22})
        db_ip = c.addr(2)
        env = {
            **os.environ,
            "LOYALTY_DATABASE_URL": _start_mariadb(c, db_ip),
            "REDIS_URL": f"redis://{db_ip}:6379/0",
            "SECRET_KEY": "hosts-test",
            "LOYALTY_PARTITIONS": str(PARTITIONS),
            "LOYALTY_BATCH_SIZE": "200",
            "LOYALTY_SWEEP_AFTER_SECONDS": "15",
            "LOYALTY_SWEEP_INTERVAL_SECONDS": "5",
            "LOYALTY_LOG_LEVEL": "INFO",
        }
        redis_argv = [
            "redis-server",
            "--bind",
            db_ip,
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
        ]
        c.start("db", [*redis_argv, "--dir", c.datadir], env, name="redis")
        _flask(env, "db", "upgrade")
        for name, host in (("web1", 11), ("web2", 12)):
            gunicorn = ["-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4"]
            c.start(name, [sys.executable, *gunicorn, "-b", f"{c.addr(host)}:8000", "wsgi:app"], env)
        for name in ("wrk1", "wrk2"):
            c.start(name, [sys.executable, "-m", "flask", "--app", "wsgi", "worker"], env)
        for host in (11, 12):
            url = f"http://{c.addr(host)}:8000/healthz"

            def up(url: str = url) -> bool:
                try:
                    return _session().get(url, timeout=2).status_code == 200
                except requests.RequestException:
                    return False

            _wait(up, 60, f"gunicorn at {url} (logs in {tmp_path})")
        yield c, env
    finally:
        c.close()


@dataclass
class Load:
    """Provider clients in the root namespace; what each acknowledged, in the order it was sent."""

    webs: list[str]
    keys: dict[str, str]
    phones: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict[int, tuple[str, str, int, float]] = field(default_factory=dict)  # id -> provider, phone, amount, t
    sequences: dict[tuple[int, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    failures: list[str] = field(default_factory=list)
    next_second: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    base: datetime = field(default_factory=lambda: (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0))

    def _body(self, client: int, provider: str, rng: random.Random, seq: int) -> dict[str, Any]:
        phone = rng.choice(self.phones)
        with self.lock:  # each customer's occurred_at goes up in the order its transactions are sent
            self.next_second[phone] += 1
            second = self.next_second[phone]
        return {
            "provider_txn_id": f"c{client}-{seq}",
            "customer": {"phone": phone},
            "amount": 10_000 * rng.randint(1, 50),
            "currency": "VND",
            "category": "topup",
            "channel": "app",
            "occurred_at": (self.base + timedelta(seconds=second)).isoformat(),
        }

    def client(self, client: int, provider: str) -> None:
        """Posts until stopped, alternating web hosts: three single POSTs, then a batch of 10, ~8 requests/s."""
        rng = random.Random(client)
        session = _session()
        headers = {"Authorization": f"Bearer {self.keys[provider]}"}
        seq = 0
        n = 0
        while not self.stop.is_set():
            web = self.webs[n % len(self.webs)]
            bodies = [self._body(client, provider, rng, seq + i) for i in range(10 if n % 4 == 3 else 1)]
            seq += len(bodies)
            try:
                if len(bodies) == 1:
                    resp = session.post(f"{web}/api/v1/transactions", json=bodies[0], headers=headers, timeout=30)
                    answers = [resp.json()] if resp.status_code in (200, 202) else []
                else:
                    payload = {"transactions": bodies}
                    resp = session.post(f"{web}/api/v1/transactions/batch", json=payload, headers=headers, timeout=30)
                    answers = resp.json()["results"] if resp.status_code in (200, 202) else []
                if not answers:
                    self.failures.append(f"{web}: {resp.status_code} {resp.text[:300]}")
            except requests.RequestException as err:
                self.failures.append(f"{web}: {err}")
                answers = []
            now = time.monotonic()
            with self.lock:
                for b, a in zip(bodies, answers, strict=False):
                    if a.get("status") not in ("queued", "accepted", "duplicate", "processed"):
                        self.failures.append(f"{web}: {a}")
                        continue
                    self.acked[a["id"]] = (provider, b["customer"]["phone"], b["amount"], now)
                    self.sequences[(client, b["customer"]["phone"])].append(a["id"])
            n += 1
            self.stop.wait(0.12)


def _books(url: str) -> tuple[dict[int, tuple[int, str, int]], dict[int, list[tuple[int, int]]], dict[int, int]]:
    """(transaction id -> customer, status, provider), (id -> its earn entries' (entry id, points)), and each
    customer's points as the ledger sums them (``flask ledger check`` proves the balances equal these)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            txns = {
                tid: (cid, status, pid)
                for tid, cid, status, pid in conn.execute(
                    text("SELECT id, customer_id, status, provider_id FROM transactions")
                )
            }
            entries: dict[int, list[tuple[int, int]]] = defaultdict(list)
            for eid, tid, points in conn.execute(
                text("SELECT id, transaction_id, points + pending FROM ledger_entries WHERE kind = 'earn'")
            ):
                entries[tid].append((eid, points))
            balances = dict(
                conn.execute(
                    text("SELECT customer_id, SUM(points + pending) FROM ledger_entries GROUP BY customer_id")
                ).all()
            )
    finally:
        engine.dispose()
    return txns, entries, {int(k): int(v) for k, v in balances.items()}


def _session() -> requests.Session:
    """A session that talks to the namespaces directly, whatever proxy the environment names."""
    session = requests.Session()
    session.trust_env = False
    return session


def _root_sql(cluster: Cluster, sql: str) -> str:
    """``sql`` as root on the test's ``mariadbd``, through its socket (no network): tab-separated rows."""
    sock = str(Path(cluster.datadir) / "mariadb.sock")
    out = subprocess.run(
        ["mariadb", "--no-defaults", "-S", sock, "-uroot", "-N", "-e", sql],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return out.stdout.strip()


def _holds_row_locks(cluster: Cluster, ip: str) -> bool:
    """A client at ``ip`` has a transaction open on the server that holds row locks."""
    sql = (
        "SELECT COUNT(*) FROM information_schema.innodb_trx t JOIN information_schema.processlist p"
        f" ON p.id = t.trx_mysql_thread_id WHERE p.host LIKE '{ip}:%' AND t.trx_rows_locked > 0"
    )
    return int(_root_sql(cluster, sql)) > 0


def _cut_mid_drain(cluster: Cluster, host: str, ip: str, redis_url: str, timeout: float = 60) -> tuple[int, list[int]]:
    """Cut ``host`` off inside its crediting transaction; returns the partition and the ids it had in flight.

    The worker is stopped (SIGSTOP) while the test looks at what it is doing: if its current RQ job drains a
    partition whose in-flight list holds ids, and the host has a transaction open on the server holding row
    locks, the link goes down, then the worker runs on (SIGCONT), cut off, holding that partition's lock, its
    ids and their rows; otherwise it runs on and the test looks again.
    """
    worker_pid = cluster.procs[host].pid  # ``ip netns exec`` execs the command: the same pid
    r = Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            os.kill(worker_pid, signal.SIGSTOP)
            partition = None
            try:
                for w in Worker.all(connection=r):
                    job = w.get_current_job() if w.pid == worker_pid else None
                    if job is not None and job.func_name == "workers.jobs.drain_partition":
                        p = int(job.args[0])
                        if r.llen(inflight_key(p)):
                            partition = p
                if partition is not None and _holds_row_locks(cluster, ip):
                    cluster.cut(host)
                    return partition, sorted(int(x) for x in r.lrange(inflight_key(partition), 0, -1))
            finally:
                os.kill(worker_pid, signal.SIGCONT)
            assert time.monotonic() < deadline, f"{host} was never caught inside a crediting transaction"
            time.sleep(random.uniform(0.01, 0.1))
    finally:
        r.close()


def _jobs_done(cluster: Cluster, name: str) -> int:
    """How many partition drains a worker host finished (RQ's "Job OK" lines of the accrual queues in its log)."""
    lines = (cluster.logs / f"{name}.log").read_text(errors="replace").splitlines()
    return sum(1 for line in lines if "loyalty-accrual-" in line and "Job OK" in line)


def test_a_worker_host_cut_off_mid_load_loses_and_doubles_nothing_and_keeps_each_customers_order(
    cluster: tuple[Cluster, dict[str, str]],
) -> None:
    c, env = cluster
    # the server's defaults: what ends a silent client's transaction is the application's own session setting
    assert _root_sql(c, "SELECT @@global.idle_transaction_timeout, @@global.innodb_lock_wait_timeout") == "0\t50"
    keys = {
        code: _flask(env, "providers", "create", code, "--name", code).strip().splitlines()[-1]
        for code in ("tel", "post", "bank")
    }
    staff = {"Authorization": f"Bearer {_flask(env, 'staff-token', 'create', 'hosts').strip().splitlines()[-1]}"}
    webs = [f"http://{c.addr(11)}:8000", f"http://{c.addr(12)}:8000"]
    for doc in (BASE_EARNING, FIRST_WITH_PROVIDER):
        resp = _session().post(f"{webs[0]}/api/v1/campaigns?publish=true", json=doc, headers=staff, timeout=30)
        assert resp.status_code == 201, resp.text

    load = Load(webs=webs, keys=keys, phones=[f"0912{i:06d}" for i in range(150)])
    clients = [
        threading.Thread(target=load.client, args=(k, provider), daemon=True)
        for k, provider in enumerate(["tel", "tel", "post", "bank"])
    ]
    for t in clients:
        t.start()
    try:
        _wait(lambda: _jobs_done(c, "wrk1") > 0 and _jobs_done(c, "wrk2") > 0, 60, "both worker hosts crediting")
        time.sleep(5)
        jobs_before = _jobs_done(c, "wrk2")
        cut_partition, cut_ids = _cut_mid_drain(c, "wrk2", c.addr(22), env["REDIS_URL"])
        cut_at, cut_wall = time.monotonic(), datetime.now(UTC)
        # past the partition locks' 10 s, a sweep, the crediting lock wait (10 s) and the idle-transaction timeout
        # (30 s): the other host takes over, gives up on the locked batch, credits the rest, then the batch
        time.sleep(CUT_SECONDS)
        with load.lock:
            sent_in_cut = [tid for tid, (_, _, _, t) in load.acked.items() if t > cut_at + 12]
        status_in_cut = _books(env["LOYALTY_DATABASE_URL"])[0]
        c.restore("wrk2")
        time.sleep(8)
    finally:
        load.stop.set()
        for t in clients:
            t.join(timeout=60)
    books = None
    assert not load.failures, load.failures[:10]  # the web hosts were never cut off: every request answered

    def credited() -> bool:
        nonlocal books
        books = _books(env["LOYALTY_DATABASE_URL"])
        return all(books[0][tid][1] == "processed" for tid in load.acked)

    _wait(credited, 90, "every acknowledged transaction credited")
    assert books is not None
    txns, entries, balances = books

    # exactly once, with the points of crediting in id order: the bonus on each (customer, provider)'s first
    expected: dict[int, int] = {}
    seen: set[tuple[int, int]] = set()
    for tid in sorted(load.acked):
        _, _, amount, _ = load.acked[tid]
        cid, _, pid = txns[tid]
        first = (cid, pid) not in seen
        seen.add((cid, pid))
        expected[tid] = amount // 10_000 + (FIRST_BONUS if first else 0)
    assert set(txns) == set(load.acked)  # nothing stored that no client holds an answer for
    got = {tid: sum(p for _, p in entries[tid]) for tid in load.acked}
    wrong = {tid: (got[tid], expected[tid]) for tid in load.acked if got[tid] != expected[tid]}
    assert not wrong, (
        f"{len(wrong)} transactions with other points than credited once in order: {list(wrong.items())[:10]}"
    )
    want_balance: dict[int, int] = defaultdict(int)
    for tid, points in expected.items():
        want_balance[txns[tid][0]] += points
    assert balances == dict(want_balance)

    # each customer's transactions credited in id order (their first ledger entries in the same order)
    by_customer: dict[int, list[int]] = defaultdict(list)
    for tid in sorted(load.acked):
        by_customer[txns[tid][0]].append(min(eid for eid, _ in entries[tid]))
    overtaken = {cid: firsts for cid, firsts in by_customer.items() if firsts != sorted(firsts)}
    assert not overtaken, list(overtaken.items())[:5]
    # and each client's transactions for one customer got ids in the order it sent them
    assert all(ids == sorted(ids) for ids in load.sequences.values())

    # the partition happened where it mattered: the cut host had been crediting, the other one credited
    # transactions acknowledged during the cut before the link came back
    assert jobs_before > 0
    credited_in_cut = [tid for tid in sent_in_cut if status_in_cut[tid][1] == "processed"]
    share = len(credited_in_cut) / len(sent_in_cut)
    assert share > 0.8, f"only {len(credited_in_cut)} of {len(sent_in_cut)} credited during the cut"
    # the server rolled the silent host's transaction back, and the other host credited its batch, in the cut
    assert cut_ids and all(status_in_cut[tid][1] == "processed" for tid in cut_ids), cut_ids
    wrk1_log = (c.logs / "wrk1.log").read_text(errors="replace")
    # ... after giving up on the locked rows once and crediting the other partitions meanwhile
    assert f"partition {cut_partition}: rows still locked after 10 s" in wrk1_log
    engine = create_engine(env["LOYALTY_DATABASE_URL"])
    with engine.connect() as conn:
        lag = conn.execute(
            text("SELECT MAX(TIMESTAMPDIFF(SECOND, received_at, processed_at)) FROM transactions")
        ).scalar_one()
        batch_done = conn.execute(
            text("SELECT MAX(processed_at) FROM transactions WHERE id IN :ids").bindparams(
                bindparam("ids", cut_ids, expanding=True)
            )
        ).scalar_one()
    engine.dispose()
    takeover = (batch_done.replace(tzinfo=UTC) - cut_wall).total_seconds()
    assert _flask(env, "ledger", "check").strip().endswith("ledger OK")
    # the other host took the cut one's partition over and credited the ids it had left in flight
    assert f"partition {cut_partition}: recovering" in wrk1_log
    print(
        f"{len(load.acked)} transactions from {len(clients)} clients, {len(sent_in_cut)} acknowledged during the "
        f"cut ({len(credited_in_cut)} credited before the link came back, {share:.0%}); the cut host's batch of "
        f"{len(cut_ids)} credited {takeover:.1f} s after the cut; worst accrual lag {lag} s; drains "
        f"wrk1 {_jobs_done(c, 'wrk1')}, wrk2 {_jobs_done(c, 'wrk2')} ({jobs_before} before the cut, in the middle "
        f"of partition {cut_partition}'s)"
    )
