"""Which outbox rows of one channel are due now: the SMS sender and the webhook sender read the same way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from campaigns.models import Outbox


def due_ids(session: Session, channel: str, now: datetime, limit: int) -> Sequence[int]:
    """Ids of the pending rows of ``channel`` whose next attempt has come, oldest first, at most ``limit``."""
    return session.scalars(
        select(Outbox.id)
        .where(
            Outbox.channel == channel,
            Outbox.status == "pending",
            or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= now),
        )
        .order_by(Outbox.id)
        .limit(limit)
    ).all()
