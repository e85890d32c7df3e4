"""The literal multi-row statements of the hot paths (campaigns/sql.py) store exactly what SQLAlchemy's binding
would: awkward text, NULLs, money, dates, UTC instants, JSON; and the ids they report belong to their rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from campaigns import sql
from campaigns.models import CustomerDaily, LedgerEntry, Outbox, PhoneState
from campaigns.sql import insert_ignore, insert_rows, table_of, upsert
from webapp.extensions import db

AWKWARD = [
    "it's",
    'say "hi"',
    "back\\slash",
    "100% sure",
    "%(name)s :x ?",
    "Điểm thưởng \u2013 ưu đãi 🎁",
    "",
    "a\nb\x00c",
]


def _entries(prefix: str, customer_id: int) -> list[dict[str, object]]:
    at = datetime(2026, 12, 4, 16, 30, 15, 123456, tzinfo=timezone(timedelta(hours=7)))
    rows: list[dict[str, object]] = []
    for i, note in enumerate(AWKWARD):
        row: dict[str, object] = {
            "entry_key": f"{prefix}:{i}",
            "customer_id": customer_id,
            "kind": "adjustment",
            "points": i - 3,
            "created_at": at,
            "note": note if i % 2 else None,
            "rule_name": None,
        }
        if i % 3 == 0:  # rows of one statement may leave out defaulted columns: they take the default
            row["debt"] = 0
        rows.append(row)
    return rows


@pytest.fixture()
def customer_id(app, clean) -> int:
    from campaigns.customers.identity import IdentityClaim, resolve_many

    with app.app_context():
        cid = resolve_many(db.session, [IdentityClaim(phone="+84912000111")])[0]
        db.session.commit()
        assert isinstance(cid, int)
        return cid


@pytest.mark.parametrize("consecutive", [True, False], ids=["ids-from-ok-packet", "ids-from-returning"])
def test_insert_rows_round_trips_values_and_reports_each_rows_id(app, customer_id, consecutive, monkeypatch) -> None:
    with app.app_context():
        session = db.session
        if not consecutive:  # as on a server in the interleaved lock mode (Galera): RETURNING is read instead
            monkeypatch.setattr(sql, "_consecutive_step", lambda _s: 0)
        rows = _entries(f"lit-{consecutive}", customer_id)
        ids = insert_rows(session, table_of(LedgerEntry), rows, returning_ids=True)
        session.commit()
        stored = {e.id: e for e in session.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(ids)))}
        assert len(ids) == len(rows) == len(stored)
        for new_id, row in zip(ids, rows, strict=True):
            entry = stored[new_id]
            assert entry.entry_key == row["entry_key"] and entry.points == row["points"]
            assert entry.note == row["note"] and entry.rule_name is None
            assert entry.pending == 0 and entry.debt == 0  # Python-side defaults filled in
            assert entry.created_at == datetime(2026, 12, 4, 9, 30, 15, 123456, tzinfo=UTC)
        session.execute(delete(LedgerEntry).where(LedgerEntry.id.in_(ids)))  # loose entries would unbalance the books
        session.commit()


def test_a_naive_instant_is_refused_as_sqlalchemy_refuses_it(app, customer_id) -> None:
    with app.app_context():
        row = {**_entries("naive", customer_id)[0], "created_at": datetime(2026, 12, 4, 9, 0)}
        with pytest.raises(ValueError, match="naive datetime"):
            insert_rows(db.session, table_of(LedgerEntry), [row])
        db.session.rollback()


def test_upsert_adds_money_and_dates_exactly_and_json_round_trips(app, customer_id) -> None:
    with app.app_context():
        session = db.session
        day = {"customer_id": customer_id, "day": date(2026, 12, 4), "provider_id": 1, "qualifying": 0}
        keys = ["customer_id", "day", "provider_id"]
        add = ("txn_count", "spend", "points")
        upsert(
            session,
            table_of(CustomerDaily),
            [{**day, "txn_count": 1, "spend": Decimal("0.1"), "points": 5}],
            keys,
            add=add,
        )
        upsert(
            session,
            table_of(CustomerDaily),
            [{**day, "txn_count": 2, "spend": Decimal("1234567.2"), "points": 7}],
            keys,
            add=add,
        )
        payload = {"text": AWKWARD, "n": 1, "nested": {"ok": True, "none": None}}
        insert_rows(
            session,
            table_of(Outbox),
            [
                {
                    "channel": "sms",
                    "template": "lit",
                    "dedupe_key": "lit:1",
                    "customer_id": customer_id,
                    "payload": payload,
                }
            ],
        )
        session.commit()
        got = session.execute(
            select(CustomerDaily.txn_count, CustomerDaily.spend, CustomerDaily.points).where(
                CustomerDaily.customer_id == customer_id
            )
        ).one()
        assert tuple(got) == (3, Decimal("1234567.3"), 12)
        assert session.scalar(select(Outbox.payload).where(Outbox.dedupe_key == "lit:1")) == payload
        session.execute(delete(CustomerDaily).where(CustomerDaily.customer_id == customer_id))
        session.commit()


def test_insert_ignore_counts_only_the_rows_it_inserted(app, clean) -> None:
    with app.app_context():
        session = db.session
        now = datetime.now(UTC)
        table = table_of(PhoneState)
        assert insert_ignore(session, table, [{"phone": "+84912000001", "updated_at": now}]) == 1
        both = [{"phone": p, "updated_at": now} for p in ("+84912000001", "+84912000002")]
        assert insert_ignore(session, table, both) == 1
        session.commit()
        assert session.scalars(select(PhoneState.phone).order_by(PhoneState.phone)).all() == [
            "+84912000001",
            "+84912000002",
        ]


def test_strings_are_escaped_exactly_as_pymysql_escapes_them() -> None:
    """The renderer applies PyMySQL's escape table itself; random strings of the characters it escapes and of
    any others must come out as ``escape_string`` makes them."""
    import random

    from pymysql.converters import escape_string

    from campaigns.sql import _quote

    rng = random.Random(18)
    special = [0, 10, 13, 26, 39, 34, 92]
    for _ in range(20_000):
        text = "".join(
            chr(rng.choice(special) if rng.random() < 0.3 else rng.randint(1, 0x2FFFF))
            for _ in range(rng.randint(0, 12))
        )
        assert _quote(text) == "'" + escape_string(text) + "'"
