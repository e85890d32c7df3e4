"""The publication counter: bumped by every change that alters what workers evaluate.

Publishing a campaign, changing a programme setting or adding a provider bumps
it in the same transaction; workers compare it with their cached copy and
recompile. It lives in the kernel because contexts below the catalog
(providers) bump it too.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Counter

PUBLICATION_COUNTER = "publication"


def bump_publication(session: Session) -> None:
    counter = session.get(Counter, PUBLICATION_COUNTER, with_for_update=True)
    if counter is None:
        session.add(Counter(name=PUBLICATION_COUNTER, value=1))
    else:
        counter.value += 1
    session.flush()


def publication_counter(session: Session) -> int:
    return session.scalar(select(Counter.value).where(Counter.name == PUBLICATION_COUNTER)) or 0
