"""Bulk imports through the CLI (in-process and a real subprocess) and the HTTP endpoint, against MariaDB and
Redis with a real RQ worker: mixed rows and the error report, gzip, NDJSON, a kill and a resume, repeated
imports, malformed files, provider scoping, and the customer migration with opening balances."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaigns.models import Customer, CustomerBalance, Import, LedgerEntry, PointLot, TierChange, Transaction
from tests.helpers.api import publish
from tests.helpers.documents import BASE_EARNING
from tests.helpers.services import DB_URL, REDIS_URL
from webapp.extensions import db

ROOT = Path(__file__).resolve().parents[2]
HEADER = "provider_txn_id,phone,national_id,amount,currency,category,channel,occurred_at,attributes.store\n"
WHEN = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()


def _row(ref: str, phone: str = "0912345678", amount: int | str = 150_000, **kw: str) -> str:
    cells = {
        "provider_txn_id": ref,
        "phone": phone,
        "national_id": "",
        "amount": str(amount),
        "currency": "VND",
        "category": "topup",
        "channel": "app",
        "occurred_at": WHEN,
        "attributes.store": "S1",
    }
    cells.update(kw)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells.values())
    return buf.getvalue()


def _scalar(app, stmt):
    with app.app_context():
        value = db.session.scalar(stmt)
        db.session.remove()
    return value


def _balances(app) -> dict[int, int]:
    with app.app_context():
        rows = dict(db.session.execute(select(CustomerBalance.customer_id, CustomerBalance.balance)).all())
        db.session.remove()
    return rows


def _balance_of(client, headers, phone: str) -> int:
    return client.get(f"/api/v1/customers/lookup?phone={phone}", headers=headers).get_json()["balance"]


def _report(client, headers, import_id: int) -> list[dict[str, str]]:
    resp = client.get(f"/api/v1/imports/{import_id}/errors.csv", headers=headers)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))


def _inline_below(app, size: int):
    """Run uploads larger than ``size`` bytes as RQ jobs (the default runs small files inline)."""
    old = app.config["LOYALTY"]
    app.config["LOYALTY"] = dataclasses.replace(old, import_inline_bytes=size)
    return old


MIXED = (
    HEADER
    + _row("M-1", "0912000001", 150_000)
    + _row("M-2", "0912000002", -5)  # amount must be positive
    + _row("M-3", "not a phone", 100_000)
    + _row("M-4", "0912000001", 200_000, occurred_at="")  # missing occurred_at
    + "M-5,0912000003,,100000\n"  # wrong number of columns
    + _row("M-6", "0912000004", 120_000, national_id="001099012345")
    + _row("M-1", "0912000001", 999_000)  # same id, different body: rejected
    + _row("M-7", "", 50_000)  # no phone, no national id
    + _row("M-8", "0912000004", 300_000, **{"attributes.store": "007"})
    + "\n"  # blank lines are skipped
    + _row("M-9", "0912000009", 70_000, occurred_at="2099-01-01T00:00:00+07:00")  # in the future
)


def test_cli_import_mixed_rows_error_report_and_credit(app, client, telecom, staff, work, tmp_path):
    publish(client, staff, BASE_EARNING)
    path = tmp_path / "day.csv"
    path.write_text(MIXED)
    result = app.test_cli_runner().invoke(
        args=["transactions", "import", str(path), "--provider", "telecom", "--errors", str(tmp_path / "err.csv")]
    )
    assert result.exit_code == 0, result.output
    assert "10 rows read, 3 accepted, 0 duplicates, 7 rejected" in result.output
    rows = list(csv.DictReader((tmp_path / "err.csv").open()))
    assert [(r["line"], r["provider_txn_id"], r["field"]) for r in rows] == [
        ("3", "M-2", "amount"),
        ("4", "M-3", "phone"),
        ("5", "M-4", "occurred_at"),
        ("6", "M-5", "row"),
        ("8", "M-1", "provider_txn_id"),
        ("9", "M-7", "phone"),
        ("12", "M-9", "occurred_at"),
    ]
    assert "greater than 0" in rows[0]["reason"]
    assert "not a phone number" in rows[1]["reason"]
    assert "expected 9 columns, found 4" in rows[3]["reason"]
    assert "different body" in rows[4]["reason"]
    assert "in the future" in rows[6]["reason"]

    work()
    assert _balance_of(client, telecom.headers, "0912000001") == 15
    assert _balance_of(client, telecom.headers, "0912000004") == 12 + 30
    by_nid = client.get("/api/v1/customers/lookup?national_id=001099012345", headers=telecom.headers).get_json()
    assert by_nid["balance"] == 42
    with app.app_context():
        attrs = db.session.scalar(select(Transaction.attributes).where(Transaction.provider_txn_id == "M-8"))
        db.session.remove()
    assert attrs == {"store": "007"}  # a leading zero keeps a code a string

    # the same report over HTTP and from the CLI
    imp = _scalar(app, select(func.max(Import.id)))
    assert [r["provider_txn_id"] for r in _report(client, telecom.headers, imp)] == [r["provider_txn_id"] for r in rows]
    listed = app.test_cli_runner().invoke(args=["imports", "errors", str(imp)])
    assert listed.output.splitlines()[0] == "line,provider_txn_id,field,reason" and "M-9" in listed.output
    # what `imports list` prints (#N) is what `imports show` and `imports errors` take
    runner = app.test_cli_runner()
    assert f"#{imp}" in runner.invoke(args=["imports", "list"]).output
    assert runner.invoke(args=["imports", "errors", f"#{imp}"]).output == listed.output
    assert "rejected: 7" in runner.invoke(args=["imports", "show", f"#{imp}"]).output


def test_http_multipart_gzip_csv_and_ndjson_are_credited_like_the_api(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    body = gzip.compress(
        (HEADER + "".join(_row(f"G-{i}", f"09120100{i:02d}", 10_000 * (i + 1)) for i in range(20))).encode()
    )
    resp = client.post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(body), "day-2026-11-22.csv.bin")},  # a name that says nothing: magic bytes decide
        headers=telecom.headers,
        content_type="multipart/form-data",
    )
    assert resp.status_code == 202, resp.get_json()
    out = resp.get_json()
    assert out["status"] == "done" and out["compression"] == "gzip" and out["format"] == "csv"
    assert (out["rows_read"], out["accepted"], out["rejected"]) == (20, 20, 0)
    assert resp.headers["Location"] == f"/api/v1/imports/{out['id']}"

    lines = [
        json.dumps(
            {"provider_txn_id": f"N-{i}", "customer": {"phone": "0912777000"}, "amount": 20_000, "occurred_at": WHEN}
        )
        for i in range(5)
    ]
    lines.insert(2, '{"provider_txn_id": "N-bad", "customer": {"phone": "0912777000"}, "amount": "x"')  # not JSON
    lines.insert(
        3,
        json.dumps(
            {
                "provider_txn_id": "N-x",
                "customer": {"phone": "0912777000"},
                "amount": 0,
                "occurred_at": WHEN,
                "extra": 1,
            }
        ),
    )
    raw = client.post("/api/v1/imports?filename=events.ndjson", data="\n".join(lines) + "\n", headers=telecom.headers)
    assert raw.status_code == 202
    nd = raw.get_json()
    assert (nd["format"], nd["accepted"], nd["rejected"]) == ("ndjson", 5, 2)
    errors = _report(client, telecom.headers, nd["id"])
    assert [(e["line"], e["field"]) for e in errors] == [("3", "row"), ("4", "amount")]
    assert errors[0]["reason"].startswith("not valid JSON")
    assert "extra" in errors[1]["reason"]  # every problem of the row is in the report

    work()
    assert _balance_of(client, telecom.headers, "0912010019") == 20
    assert _balance_of(client, telecom.headers, "0912777000") == 10
    assert _scalar(app, select(func.count()).where(Transaction.status == "processed")) == 25


def test_large_upload_runs_as_an_rq_job_and_reports_progress(app, client, telecom, staff, work):
    publish(client, staff, BASE_EARNING)
    old = _inline_below(app, 0)
    try:
        text = HEADER + "".join(_row(f"J-{i}", f"0913{i % 50:06d}", 10_000) for i in range(600))
        resp = client.post("/api/v1/imports", data=gzip.compress(text.encode()), headers=telecom.headers)
    finally:
        app.config["LOYALTY"] = old
    assert resp.status_code == 202
    queued = resp.get_json()
    assert queued["status"] == "queued" and queued["rows_read"] == 0 and not queued["finished"]
    work()  # the worker takes the import job from loyalty-imports, then credits what it dispatched
    done = client.get(f"/api/v1/imports/{queued['id']}", headers=telecom.headers).get_json()
    assert done["status"] == "done" and done["finished"] and done["progress"] == 1.0
    assert (done["rows_read"], done["accepted"], done["rejected"], done["last_line"]) == (600, 600, 0, 601)
    assert _scalar(app, select(func.count()).where(Transaction.status == "processed")) == 600
    assert sum(_balances(app).values()) == 600
    assert not list(Path(app.config["LOYALTY"].import_dir).glob("upload-*"))  # the upload is gone once done


def test_repeated_import_credits_nothing_twice(app, client, telecom, staff, work, tmp_path):
    publish(client, staff, BASE_EARNING)
    text = HEADER + "".join(_row(f"R-{i}", f"09140000{i:02d}", 50_000) for i in range(30))
    first = client.post("/api/v1/imports", data=text, headers=telecom.headers).get_json()
    assert first["accepted"] == 30
    work()
    before = _balances(app)
    again = client.post("/api/v1/imports", data=text, headers=telecom.headers).get_json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 30, 0)
    path = tmp_path / "same.csv"
    path.write_text(text)
    cli = app.test_cli_runner().invoke(args=["transactions", "import", str(path), "--provider", "telecom"])
    assert "0 accepted, 30 duplicates" in cli.output
    resumed = app.test_cli_runner().invoke(
        args=["transactions", "import", str(path), "--provider", "telecom", "--resume"]
    )
    assert "already done" in resumed.output
    work()
    assert _balances(app) == before and sum(before.values()) == 150
    assert _scalar(app, select(func.count()).select_from(Transaction)) == 30


def _flask(*args: str, **popen) -> subprocess.Popen:
    env = {
        **os.environ,
        "LOYALTY_DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "LOYALTY_PARTITIONS": "4",
        "LOYALTY_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


@pytest.mark.slow  # SIGKILLs a real `flask transactions import` subprocess
@pytest.mark.parametrize("resume", [True, False])
def test_kill_mid_file_then_rerun_gives_exact_balances(app, client, telecom, staff, work, tmp_path, resume):
    """SIGKILL a real `flask transactions import` mid-file, then resume it (or just run it again)."""
    publish(client, staff, BASE_EARNING)
    n, customers = 6000, 40
    path = tmp_path / "big.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write(HEADER)
        for i in range(n):
            f.write(_row(f"K-{i}", f"0915{i % customers:06d}", 10_000 * (1 + i % 3)))
    expected: dict[str, int] = {}
    for i in range(n):
        phone = f"0915{i % customers:06d}"
        expected[phone] = expected.get(phone, 0) + 1 + i % 3
    args = ["transactions", "import", str(path), "--provider", "telecom", "--chunk-rows", "200", "--no-progress"]
    proc = _flask(*args)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = _scalar(app, select(func.max(Import.rows_read))) or 0
        if done >= 1000 or proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -9, "the import finished before it could be killed"
    with app.app_context():
        killed = db.session.scalars(select(Import)).one()
        db.session.remove()
    assert killed.status == "running" and 0 < killed.rows_read < n
    assert killed.rows_read == killed.accepted and killed.last_line == killed.rows_read + 1

    rerun = _flask(*args, *(["--resume"] if resume else []))
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    if resume:
        assert f"Resuming import #{killed.id} after line {killed.last_line}" in stdout
        assert f"{n:,} rows read, {n:,} accepted, 0 duplicates" in stdout
    else:
        assert f"{n:,} rows read, {n - killed.accepted:,} accepted, {killed.accepted:,} duplicates" in stdout
    work()
    assert _scalar(app, select(func.count()).select_from(Transaction)) == n
    assert _scalar(app, select(func.count()).where(Transaction.status == "processed")) == n
    for phone in ("0915000000", "0915000007", f"0915{customers - 1:06d}"):
        assert _balance_of(client, telecom.headers, phone) == expected[phone]
    assert sum(_balances(app).values()) == sum(expected.values())


@pytest.mark.slow  # two real `flask transactions import` subprocesses
def test_running_a_file_again_hands_over_rows_an_earlier_run_never_dispatched(
    app, client, telecom, staff, work, tmp_path, redis_client
):
    """A run killed between a chunk's commit and its dispatch leaves queued rows no worker heard of; importing
    the same file again (not a resume) hands them over at once instead of waiting for the sweeper."""
    publish(client, staff, BASE_EARNING)
    path = tmp_path / "day.csv"
    path.write_text(HEADER + "".join(_row(f"D-{i}", f"0916{i % 5:06d}", 10_000) for i in range(50)))
    args = ["transactions", "import", str(path), "--provider", "telecom", "--no-progress"]
    first = _flask(*args)
    assert first.wait(timeout=120) == 0, first.communicate()[1]
    redis_client.flushdb()  # the dispatch never happened: no worker will hear of these ids
    work()
    assert _scalar(app, select(func.count()).where(Transaction.status == "queued")) == 50
    again = _flask(*args)
    stdout, stderr = again.communicate(timeout=120)
    assert again.returncode == 0, stderr
    assert "50 rows read, 0 accepted, 50 duplicates" in stdout
    work()
    assert _scalar(app, select(func.count()).where(Transaction.status == "processed")) == 50
    assert sum(_balances(app).values()) == 50


def test_malformed_files_are_refused_naming_the_line(app, client, telecom, tmp_path):
    h = telecom.headers

    def post(data, **kw):
        return client.post("/api/v1/imports", data=data, headers=h, **kw)

    wrong = post("provider_txn_id,phone,amount,when,colour\nA,0912345678,1,x,y\n")
    assert wrong.status_code == 422
    err = wrong.get_json()["error"]
    assert err["code"] == "invalid_file" and err["message"].startswith("line 1: wrong header")
    assert "missing required column(s) 'occurred_at'" in err["message"] and "unknown column 'when'" in err["message"]
    assert err["fields"][0]["path"] == "header"

    for data, words in [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
        (b"id,amount\n\x00\x01\x02\x03", "binary data"),
        (b"PK\x03\x04 zip", "zip archive"),
        (b'[{"provider_txn_id": "A"}]\n', "JSON array"),
        (b"", "empty"),
        (b"\x1f\x8b\x08\x00garbage", "gzip"),
    ]:
        resp = post(data)
        assert resp.status_code == 422, (words, resp.get_json())
        assert words in resp.get_json()["error"]["message"] and "line 1" in resp.get_json()["error"]["message"]
    assert not list(Path(app.config["LOYALTY"].import_dir).glob("upload-*"))  # refused uploads are not kept

    # a gzip stream cut off mid-file: what came before is kept, the import ends failed naming the line
    full = gzip.compress((HEADER + "".join(_row(f"T-{i}", f"0916{i:06d}", 10_000 + i) for i in range(3000))).encode())
    cut = post(full[: len(full) // 2])
    assert cut.status_code == 202
    failed = client.get(f"/api/v1/imports/{cut.get_json()['id']}", headers=h).get_json()
    assert failed["status"] == "failed" and failed["finished"]
    assert f"line {failed['last_line'] + 1}:" in failed["message"] and "cut off" in failed["message"]
    assert 0 < failed["accepted"] == failed["rows_read"] < 3000
    assert _scalar(app, select(func.count()).select_from(Transaction)) == failed["accepted"]

    # an unterminated quote, and a last NDJSON line cut in the middle
    quote = post(HEADER + _row("Q-1") + 'Q-2,0912345678,,"10000,VND,topup,app,' + WHEN + ",S1\n")
    assert quote.get_json()["status"] == "failed" and quote.get_json()["message"].startswith("line 3:")
    assert "never closed" in quote.get_json()["message"] and quote.get_json()["accepted"] == 1
    ok = json.dumps(
        {"provider_txn_id": "J-1", "customer": {"phone": "0912345678"}, "amount": 10_000, "occurred_at": WHEN}
    )
    nd = post(ok + "\n" + ok.replace("J-1", "J-2")[:40])
    assert nd.get_json()["status"] == "failed" and nd.get_json()["message"].startswith("line 2: the last line")
    short = post(HEADER + _row("S-1") + "S-2,0912345678,,10000,VND")  # CSV cut mid-row, no line break
    assert (
        short.get_json()["status"] == "failed"
        and "line 3: the last line has 5 of 9 columns" in short.get_json()["message"]
    )

    # the CLI says the same and exits 1
    bad = tmp_path / "bad.csv"
    bad.write_text("provider_txn_id,amount,occurred_at\n")
    result = app.test_cli_runner().invoke(args=["transactions", "import", str(bad), "--provider", "telecom"])
    assert result.exit_code == 1 and "line 1: wrong header: give a 'phone' or a 'national_id' column" in result.output
    gz = tmp_path / "cut.gz"
    gz.write_bytes(full[: len(full) // 2])
    result = app.test_cli_runner().invoke(args=["transactions", "import", str(gz), "--provider", "telecom"])
    assert result.exit_code == 1 and "failed" in result.output and "cut off" in result.output


def test_uploads_stream_past_the_api_body_limit_up_to_their_own(app, client, telecom):
    body = HEADER + "".join(_row(f"Z-{i}", f"09190000{i:02d}") for i in range(60))
    old_limit, old = app.config["MAX_CONTENT_LENGTH"], app.config["LOYALTY"]
    app.config["MAX_CONTENT_LENGTH"] = 1000
    try:
        assert len(body) > 1000
        assert client.post("/api/v1/transactions/batch", data=body, headers=telecom.headers).status_code == 413
        ok = client.post("/api/v1/imports", data=body, headers=telecom.headers)
        assert ok.status_code == 202 and ok.get_json()["accepted"] == 60
        app.config["LOYALTY"] = dataclasses.replace(old, max_import_bytes=2000)
        for kw in ({"data": body}, {"data": {"file": (io.BytesIO(body.encode()), "f.csv")}}):
            too = client.post("/api/v1/imports", headers=telecom.headers, **kw)
            assert too.status_code == 413, too.get_json()
            assert too.get_json()["error"] == {
                "code": "too_large",
                "message": "request body is larger than 2000 bytes",
                "fields": [],
            }
    finally:
        app.config["MAX_CONTENT_LENGTH"], app.config["LOYALTY"] = old_limit, old
    assert not list(Path(old.import_dir).glob("upload-*"))
    no_file = client.post(
        "/api/v1/imports", data={"other": "x"}, headers=telecom.headers, content_type="multipart/form-data"
    )
    assert no_file.status_code == 400 and "multipart field named 'file'" in no_file.get_json()["error"]["message"]


def test_imports_are_provider_scoped(app, client, telecom, shop, staff):
    mine = client.post("/api/v1/imports", data=HEADER + _row("P-1"), headers=telecom.headers).get_json()
    other = client.post("/api/v1/imports", data=HEADER + _row("P-1", amount="x"), headers=shop.headers).get_json()
    assert client.get(f"/api/v1/imports/{mine['id']}", headers=telecom.headers).status_code == 200
    for url in (f"/api/v1/imports/{mine['id']}", f"/api/v1/imports/{mine['id']}/errors.csv"):
        resp = client.get(url, headers=shop.headers)
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    assert [i["id"] for i in client.get("/api/v1/imports", headers=shop.headers).get_json()["imports"]] == [other["id"]]
    assert len(client.get("/api/v1/imports", headers=staff).get_json()["imports"]) == 2
    assert client.get(f"/api/v1/imports/{other['id']}", headers=staff).get_json()["provider"] == "shop"
    assert client.post("/api/v1/imports", data=HEADER, headers=staff).status_code == 403
    assert client.get(f"/api/v1/imports/{mine['id']}").status_code == 401
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/imports", "/api/v1/imports/{import_id}", "/api/v1/imports/{import_id}/errors.csv"} <= set(paths)


CUSTOMERS = """customer_ref,phone,national_id,tier,birth_date,points,expires_at
L-1,0912345678;0987654321,,gold,1990-05-01,500;200,{soon};{later}
L-2,0911111111,001099012345,,,1000,
L-3,0913333333,,,,100,2020-01-01
L-4,,,,,,
L-5,0915555555,,platinum,,10,
L-6,0916666666,,silver,2999-01-01,,
L-7,+84916666666;0917777777,,,,70,{later}
"""


def test_customers_import_with_opening_balances_and_expiry(app, client, telecom, staff, work, tmp_path):
    publish(client, staff, (ROOT / "docs/examples/tiers.yaml").read_text())
    publish(client, staff, BASE_EARNING)
    soon = (date.today() + timedelta(days=40)).isoformat()
    later = (date.today() + timedelta(days=300)).isoformat()
    path = tmp_path / "legacy.csv"
    path.write_text(CUSTOMERS.format(soon=soon, later=later))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["customers", "import", str(path), "--errors", str(tmp_path / "e.csv")])
    assert result.exit_code == 0, result.output
    assert "7 rows read, 3 accepted, 0 duplicates, 4 rejected, 1,770 opening points" in result.output
    errors = {r["customer_ref"]: r for r in csv.DictReader((tmp_path / "e.csv").open())}
    assert errors["L-3"]["field"] == "expires_at" and "expired" in errors["L-3"]["reason"]
    assert errors["L-4"]["field"] == "phone"
    assert errors["L-5"]["field"] == "tier" and "unknown tier 'platinum'" in errors["L-5"]["reason"]
    assert errors["L-6"]["field"] == "birth_date"
    assert "L-7" not in errors  # its first phone belongs to nobody yet, the second links to the same person

    first = client.get("/api/v1/customers/lookup?phone=0987654321", headers=telecom.headers).get_json()
    assert first["balance"] == 700 and first["tier"] == "gold" and len(first["identities"]) == 2
    assert first["expiring"] == [{"date": soon, "points": 500}]  # the next three months; the 200 expire later
    assert [e["kind"] for e in first["ledger"]] == ["opening", "opening"]
    by_nid = client.get("/api/v1/customers/lookup?national_id=001099012345", headers=telecom.headers).get_json()
    assert by_nid["balance"] == 1000 and {i["value"] for i in by_nid["identities"]} == {"+84911111111", "001099012345"}
    with app.app_context():
        lots = db.session.execute(select(PointLot.points, PointLot.expires_at).order_by(PointLot.id)).all()
        customer = db.session.scalar(select(Customer).where(Customer.id == first["id"]))
        history = db.session.scalars(select(TierChange.reason)).all()
        keys = set(db.session.scalars(select(LedgerEntry.entry_key)))
        db.session.remove()
    assert [p for p, _ in lots] == [500, 200, 1000, 70]
    assert lots[0][1].date().isoformat() == soon  # valid through that day, Vietnam time
    assert customer.birth_date == date(1990, 5, 1) and len(history) == 1
    assert keys == {"open:L-1", "open:L-1:2", "open:L-2", "open:L-7"}

    # idempotent by customer_ref; a migrated gold customer then earns with the gold multiplier
    again = runner.invoke(args=["customers", "import", str(path)])
    assert "0 accepted, 3 duplicates, 4 rejected" in again.output
    resp = client.post(
        "/api/v1/transactions",
        json={"provider_txn_id": "after", "customer": {"phone": "0912345678"}, "amount": 100_000, "occurred_at": WHEN},
        headers=telecom.headers,
    )
    assert resp.status_code == 202 and resp.get_json()["customer_id"] == first["id"]
    work()
    assert _balance_of(client, telecom.headers, "0912345678") == 700 + 10 + 5  # gold x1.5
    check = runner.invoke(args=["ledger", "check"])
    assert check.exit_code == 0 and "ledger OK" in check.output


def test_customers_ndjson_gzip_and_resume_of_a_finished_file(app, client, telecom, tmp_path):
    later = (date.today() + timedelta(days=100)).isoformat()
    lines = [
        {
            "customer_ref": "N-1",
            "phones": ["0912000111", "0912000112"],
            "balances": [{"points": 40, "expires_at": later}],
        },
        {"customer_ref": "N-2", "national_id": "079123456789", "points": 60},
        {"customer_ref": "N-3", "phones": ["0912000113"], "balances": [{"points": -1}]},
    ]
    path = tmp_path / "legacy.ndjson.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(x) + "\n" for x in lines).encode()))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["customers", "import", str(path), "--errors", str(tmp_path / "e.csv")])
    assert "3 rows read, 2 accepted, 0 duplicates, 1 rejected, 100 opening points" in result.output
    assert next(csv.DictReader((tmp_path / "e.csv").open()))["field"] == "balances[0].points"
    assert client.get("/api/v1/customers/lookup?phone=0912000112", headers=telecom.headers).get_json()["balance"] == 40
    resumed = runner.invoke(args=["customers", "import", str(path), "--resume"])
    assert "already done" in resumed.output


def test_embedded_sqlite_upload_runs_in_a_thread(tmp_path, monkeypatch):
    """No Redis: the migration runs on SQLite and an upload is processed by a thread, then credited."""
    from flask_migrate import upgrade

    from campaigns.access.providers import create_provider, issue_key
    from campaigns.settings import Settings
    from webapp import create_app

    for var in ("LOYALTY_DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env(
        database_url=f"sqlite:///{tmp_path / 'loyalty.sqlite3'}",
        import_inline_bytes=0,
        import_dir=str(tmp_path / "up"),
        import_chunk_rows=10,
    )
    app = create_app(settings, TESTING=True)
    with app.app_context():
        upgrade()
        _, key = create_provider(db.session, "telecom", "Mobile operator")
        staff = issue_key(db.session, "staff", "s")
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    publish(client, {"Authorization": f"Bearer {staff}"}, BASE_EARNING)
    text = HEADER + "".join(_row(f"E-{i}", f"09170000{i % 5:02d}", 20_000) for i in range(50))
    posted = client.post("/api/v1/imports", data=gzip.compress(text.encode()), headers=headers).get_json()
    deadline = time.monotonic() + 30
    view = posted
    while time.monotonic() < deadline and not view["finished"]:
        time.sleep(0.1)
        view = client.get(f"/api/v1/imports/{posted['id']}", headers=headers).get_json()
    assert view["status"] == "done" and view["accepted"] == 50
    day = tmp_path / "day.csv"
    day.write_text(HEADER + "".join(_row(f"C-{i}", "0917000000", 10_000) for i in range(30)))
    result = app.test_cli_runner().invoke(args=["transactions", "import", str(day), "--provider", "telecom"])
    assert "30 accepted" in result.output and "(embedded queue)" in result.output, result.output
    # credited by the CLI's own drain or by the embedded thread the upload woke, whichever came first
    from sqlalchemy import func, select

    from campaigns.models import Transaction

    with app.app_context():
        deadline = time.monotonic() + 15
        while True:
            done = db.session.scalar(
                select(func.count()).where(Transaction.provider_txn_id.like("C-%"), Transaction.status == "processed")
            )
            db.session.remove()
            if done == 30 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert done == 30
    legacy = tmp_path / "legacy.csv"
    legacy.write_text("customer_ref,phone,points,expires_at\nX-1,0917000000,25,2099-12-31\n")
    assert "1 accepted" in app.test_cli_runner().invoke(args=["customers", "import", str(legacy)]).output
    while time.monotonic() < deadline and _balance_of(client, headers, "0917000000") < 20 + 30 + 25:
        time.sleep(0.1)
    assert _balance_of(client, headers, "0917000000") == 20 + 30 + 25
    with app.app_context():
        from campaigns.accounts.ledger import check_invariants

        assert check_invariants(db.session) == []


def test_worker_takes_over_an_abandoned_upload(app, client, telecom, staff, work):
    """An uploaded import whose runner died resumes from its last committed line when a worker picks it up."""
    from campaigns.imports import runner as imports
    from campaigns.imports.files import LineStream, read_rows
    from workers.imports import requeue_stale

    publish(client, staff, BASE_EARNING)
    old = _inline_below(app, 0)
    try:
        text = HEADER + "".join(_row(f"A-{i}", f"0918{i % 7:06d}", 10_000) for i in range(500))
        posted = client.post("/api/v1/imports", data=text, headers=telecom.headers).get_json()
    finally:
        app.config["LOYALTY"] = old
    rt = app.extensions["loyalty.runtime"]
    # a runner takes the lease, commits two chunks, dispatches only the first, and dies without a word
    token = imports.claim(rt.session_factory, posted["id"])
    runner = imports._Runner(
        rt.session_factory, posted["id"], token, rt.dispatcher.dispatch, None, imports.Options(chunk_rows=100), None
    )
    lines = LineStream(runner.path, False)
    chunk = []
    for row in read_rows(runner.info, "transactions", lines):
        chunk.append(row)
        if len(chunk) == 100:
            pairs = runner._write(chunk, lines.position())
            chunk = []
            if runner.progress.rows_read == 200:
                break
            runner._dispatch(pairs)
    lines.close()
    with app.app_context():
        db.session.execute(
            Import.__table__.update()
            .where(Import.id == posted["id"])
            .values(heartbeat_at=datetime.now(UTC) - timedelta(hours=1))
        )
        db.session.commit()
        db.session.remove()
    assert requeue_stale(rt) == 1 and requeue_stale(rt) == 0  # enqueued once per stale period
    work()
    done = client.get(f"/api/v1/imports/{posted['id']}", headers=telecom.headers).get_json()
    assert (done["status"], done["rows_read"], done["accepted"], done["duplicates"]) == ("done", 500, 500, 0)
    assert (
        _scalar(app, select(func.count()).where(Transaction.status == "processed")) == 500
    )  # the undispatched 200 too


def test_sweeper_leaves_a_backlog_waiting_in_redis_alone(app, client, telecom, staff, work, redis_client):
    """A big import's backlog is older than the sweep age: the sweeper must not push its ids a second time."""
    from workers.queues import SWEEP_LOCK_KEY, pending_key
    from workers.sweeper import sweep

    publish(client, staff, BASE_EARNING)
    rt = app.extensions["loyalty.runtime"]
    text = HEADER + "".join(_row(f"S-{i}", f"0919{i % 9:06d}", 10_000) for i in range(90))
    assert client.post("/api/v1/imports", data=text, headers=telecom.headers).get_json()["accepted"] == 90
    with app.app_context():
        db.session.execute(Transaction.__table__.update().values(received_at=datetime.now(UTC) - timedelta(minutes=10)))
        db.session.commit()
        db.session.remove()

    def waiting() -> int:
        return sum(redis_client.llen(pending_key(p)) for p in range(rt.partitions))

    assert waiting() == 90
    assert sweep(rt) == 0 and waiting() == 90  # woken, not re-pushed
    for p in range(rt.partitions):
        redis_client.delete(pending_key(p))  # now the ids are really lost
    redis_client.delete(SWEEP_LOCK_KEY)
    assert sweep(rt) == 90 and waiting() == 90
    work()
    assert _scalar(app, select(func.count()).where(Transaction.status == "processed")) == 90
