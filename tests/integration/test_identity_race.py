"""Two requests creating the same new customer at once, on real MariaDB: the loser's insert fails, and it must
end with the winner's customer and leave no customer of its own behind (its writes run without a savepoint)."""

from __future__ import annotations

import threading

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.customers.identity import IdentityClaim, resolve_many
from campaigns.models import Customer, CustomerBalance, CustomerIdentity
from webapp.extensions import db


def test_the_loser_of_an_identity_race_takes_the_winners_customer_and_leaves_nothing(app: Flask, clean: None) -> None:
    claim = IdentityClaim("0912000111", "012345678901")
    with app.app_context():
        engine = db.engine
    with Session(engine) as first, Session(engine) as second:
        won = resolve_many(first, [claim])  # uncommitted: its identity rows hold the unique keys
        result: list[object] = []
        racer = threading.Thread(target=lambda: result.extend(resolve_many(second, [claim])))
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # the second insert waits on the first transaction's unique keys
        first.commit()
        racer.join(10)
        second.commit()
    assert result == won
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 1
        assert s.scalar(select(func.count()).select_from(CustomerBalance)) == 1
        assert s.scalar(select(func.count()).select_from(CustomerIdentity)) == 2
