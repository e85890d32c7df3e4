"""bench/scale.py's books, at a tiny size: they pass the app's own checks, and bench/ingest.py's phones find them.

So the generator cannot rot silently when the schema or the invariants move on.
"""

from __future__ import annotations

import os
import random
from datetime import datetime

from flask import Flask
from sqlalchemy import create_engine, text

from bench import scale
from bench.ingest import make_phones
from campaigns.accounts.ledger import check_invariants
from campaigns.customers.identity import normalize_phone
from tests.helpers.services import DB_URL, REDIS_URL

CUSTOMERS = 300


def test_generated_books_balance_and_serve_the_ingest_the_requalification_and_a_statement(
    app: Flask, clean: None
) -> None:
    from webapp.extensions import db

    engine = create_engine(DB_URL)
    today = datetime.now(scale.ICT).date()
    scale.generate(engine, CUSTOMERS, today=today, block=128)  # three blocks, the last one short
    scale.publish_tiers(app)

    rows = scale.counts(engine)
    assert rows["customers"] == rows["customer_identities"] == CUSTOMERS
    assert rows["ledger_entries"] == 12 * CUSTOMERS  # nine earnings, two redemptions, one expiry each
    assert rows["transactions"] == rows["point_lots"] == rows["customer_daily"] == 9 * CUSTOMERS
    assert rows["lot_consumptions"] == 5 * CUSTOMERS and rows["redemptions"] == 2 * CUSTOMERS
    assert rows["customer_providers"] == 3 * CUSTOMERS
    with app.app_context():
        assert check_invariants(db.session) == []
    with engine.begin() as conn:
        first, last = conn.execute(text("SELECT MIN(created_at), MAX(created_at) FROM ledger_entries")).one()
        assert (last - first).days > 650  # two years of history (the last earnings 22 months in, spread over 55 days)
        assert conn.execute(text("SELECT COUNT(*) FROM point_lots WHERE remaining > 0")).scalar_one() == 4 * CUSTOMERS
        # the phones bench/ingest.py draws for --customers 300 with the same seed are these customers' numbers
        phones = {normalize_phone(p) for p in make_phones(CUSTOMERS, random.Random(scale.SEED))}
        held = {v for (v,) in conn.execute(text("SELECT value FROM customer_identities WHERE kind = 'phone'"))}
        assert held == phones

    env = {**os.environ, "LOYALTY_DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL, "LOYALTY_LOG_LEVEL": "WARNING"}
    requalified = scale.flask(env, "tiers", "requalify")
    assert requalified["exit_code"] == 0 and f"{CUSTOMERS} customers in" in requalified["output"][-1]
    closed = scale.flask(env, "settlement", "close", scale.default_month(today))
    assert closed["exit_code"] == 0 and closed["peak_rss_mb"] > 0
    assert closed["output"][-1].split() == ["total", "0", "VND"]
    with engine.begin() as conn:
        net = conn.execute(text("SELECT COUNT(*), SUM(amount) FROM settlement_lines WHERE kind = 'net'")).one()
    assert net[0] == 4 and net[1] == 0  # three providers and the programme, settled to zero
    size = scale.disk_size(engine, CUSTOMERS)
    assert size["bytes"] > 0 and "ledger_entries" in size["largest_tables_mb"]
    engine.dispose()
