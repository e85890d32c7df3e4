"""Demo data: four providers, the example campaigns, customers and a few hundred transactions."""

from __future__ import annotations

import os
import random
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from campaigns.access import providers, users
from campaigns.accounts import rewards
from campaigns.accrual.transactions import ACCEPTED, ingest
from campaigns.catalog import documents as catalog
from campaigns.clock import utcnow
from campaigns.consent import consents
from campaigns.models import ConsentRecord, Provider, StaffUser
from campaigns.schemas import CustomerRef, TransactionIn

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
PROVIDERS = {
    "telecom": ("Mobile operator", ["topup", "data_pack", "postpaid_bill"], ["app", "ussd", "sms", "web"]),
    "post": ("Post office", ["parcel", "money_transfer", "bill_payment"], ["pos", "app"]),
    "bank": ("Savings bank", ["card_spend", "deposit"], ["app", "web", "pos"]),
    "shop": ("Convenience shop", ["grocery", "electronics", "fashion"], ["pos", "web", "app"]),
}
DEMO_USERS = [  # e-mail, role, provider
    ("admin@demo.test", "admin", None),
    ("marketer@demo.test", "marketer", None),
    ("marketer2@demo.test", "marketer", None),
    ("analyst@demo.test", "analyst", None),
    ("care@demo.test", "care", None),
    ("telecom@demo.test", "provider", "telecom"),
    ("shop@demo.test", "provider", "shop"),
]


@dataclass
class SeedSummary:
    keys: dict[str, str] = field(default_factory=dict)
    staff_token: str | None = None
    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # e-mail -> (role, password)
    campaigns: int = 0
    pairs: list[tuple[int, int]] = field(default_factory=list)


def is_seeded(session: Session) -> bool:
    """Decided from the database itself (its demo providers), never from a keys file left by another database."""
    return session.scalar(select(Provider.id).where(Provider.code.in_(PROVIDERS)).limit(1)) is not None


def keys_filename(database_url: str) -> str:
    """One keys file per database (``demo-keys-<backend>-<database>.txt``): switching databases never shows
    another one's keys."""
    url = make_url(database_url)
    name = Path(url.database).stem if url.get_backend_name() == "sqlite" and url.database else url.database
    return "demo-keys-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{url.get_backend_name()}-{name or 'memory'}") + ".txt"


def write_keys(path: Path, database_url: str, lines: list[str]) -> None:
    """The keys and passwords printed once at seeding, kept beside the instance (owner-readable only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shown = make_url(database_url).render_as_string(hide_password=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"# demo keys for {shown}\n" + "".join(f"{line}\n" for line in lines))


def _phone(rng: random.Random) -> str:
    return "09" + "".join(str(rng.randrange(10)) for _ in range(8))


def seed(session: Session, *, customers: int = 60, transactions: int = 300, rng_seed: int = 7) -> SeedSummary:
    """Idempotent: providers and campaigns are created once; transactions get fresh ids each run."""
    rng = random.Random(rng_seed)
    summary = SeedSummary()
    ids: dict[str, int] = {}
    for code, (name, _cats, _chans) in PROVIDERS.items():
        existing = session.scalar(select(Provider).where(Provider.code == code))
        if existing is None:
            provider, key = providers.create_provider(session, code, name)
            summary.keys[code] = key
            ids[code] = provider.id
        else:
            ids[code] = existing.id
    if summary.keys:
        summary.staff_token = providers.issue_key(session, "staff", "demo staff")
    for email, role, user_provider in DEMO_USERS:
        if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is None:
            password = f"demo-{secrets.token_urlsafe(9)}"
            users.create_user(session, email, password, role, provider_code=user_provider, actor="demo")
            summary.users[email] = (role, password)
    for path in sorted(EXAMPLES.glob("*.*")):
        fmt = "json" if path.suffix == ".json" else "yaml"
        # the demo's own example set, seeded by the operator: published without a review round
        catalog.import_document(
            session, path.read_text(encoding="utf-8"), fmt=fmt, author="demo", publish=True, require_approval=False
        )
        summary.campaigns += 1
    for item in yaml.safe_load((EXAMPLES / "catalog" / "rewards.yaml").read_text(encoding="utf-8"))["rewards"]:
        rewards.save_reward(session, item, actor="demo")
    people = [
        CustomerRef(
            phone=_phone(rng),
            national_id=("0010" + "".join(str(rng.randrange(10)) for _ in range(8))) if i % 3 == 0 else None,
        )
        for i in range(customers)
    ]
    now = utcnow()
    run = now.strftime("%Y%m%d%H%M%S")
    by_provider: dict[str, list[TransactionIn]] = {code: [] for code in PROVIDERS}
    for n in range(transactions):
        code = rng.choice(list(PROVIDERS))
        _name, cats, chans = PROVIDERS[code]
        by_provider[code].append(
            TransactionIn(
                provider_txn_id=f"demo-{run}-{n}",
                customer=rng.choice(people),
                amount=Decimal(rng.choice([20_000, 50_000, 100_000, 150_000, 250_000, 500_000, 1_200_000])),
                currency="VND",
                category=rng.choice(cats),
                channel=rng.choice(chans),
                occurred_at=now - timedelta(minutes=rng.randrange(0, 60 * 24 * 6)),
                attributes={"store": f"S{rng.randrange(1, 40):03d}"} if code == "shop" else {},
            )
        )
    for code, items in by_provider.items():
        for out in ingest(session, ids[code], items, utcnow()):
            if out.status == ACCEPTED and out.txn:
                summary.pairs.append((out.txn["id"], out.txn["customer_id"]))
    _seed_consents(session, sorted({cid for _, cid in summary.pairs}), rng)
    return summary


def _seed_consents(session: Session, customer_ids: list[int], rng: random.Random) -> None:
    """Some members decided already (the 360 and the portal show a record); the rest stay silent: not granted."""
    decided = set(session.scalars(select(ConsentRecord.customer_id).where(ConsentRecord.customer_id.in_(customer_ids))))
    for cid in customer_ids:
        if cid in decided or rng.random() >= 0.3:
            continue
        consents.record(session, cid, "marketing", True, channel="app", actor=f"customer:{cid}")
        if rng.random() < 0.5:
            consents.record(session, cid, "cross_provider_sharing", True, channel="sms", actor=f"customer:{cid}")
