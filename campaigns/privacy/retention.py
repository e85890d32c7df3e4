"""Retention: one-time codes, inbound SMS, USSD session logs and message bodies are kept only so long.

The programme setting ``retention`` gives the days for each; the lifecycle job (``flask lifecycle`` and the
workers' periodic pass) calls :func:`purge`. Rows are deleted, except sent messages: the outbox row stays (it
is counted in analytics and explains a delivery) and only its body and recipient are blanked.
A code still pending or a message not yet sent is never touched, whatever its age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from campaigns.catalog import programme
from campaigns.clock import utcnow
from campaigns.models import OtpCode, Outbox, SmsInbound, UssdSession
from campaigns.sql import rowcount


@dataclass
class RetentionReport:
    otp_codes: int = 0
    inbound_sms: int = 0
    ussd_sessions: int = 0
    message_bodies: int = 0

    def __str__(self) -> str:
        return (
            f"retention: {self.otp_codes} codes, {self.inbound_sms} inbound SMS, "
            f"{self.ussd_sessions} USSD session logs deleted; {self.message_bodies} message bodies blanked"
        )


def purge(session: Session, now: datetime | None = None) -> RetentionReport:
    """Delete (or blank) what is older than the programme's retention (no commit)."""
    now = now or utcnow()
    days = programme.load(session).retention or programme.DEFAULTS["retention"]

    def before(key: str) -> datetime:
        return now - timedelta(days=int(days[key]))

    codes = before("otp_codes_days")
    report = RetentionReport()
    report.otp_codes = rowcount(
        session.execute(
            delete(OtpCode).where(
                OtpCode.created_at < codes, (OtpCode.used_at.is_not(None)) | (OtpCode.expires_at < now)
            )
        )
    )
    report.inbound_sms = rowcount(
        session.execute(delete(SmsInbound).where(SmsInbound.created_at < before("inbound_sms_days")))
    )
    report.ussd_sessions = rowcount(
        session.execute(delete(UssdSession).where(UssdSession.created_at < before("ussd_sessions_days")))
    )
    report.message_bodies = rowcount(
        session.execute(
            update(Outbox)
            .where(
                Outbox.channel == "sms",
                Outbox.created_at < before("message_bodies_days"),
                Outbox.status != "pending",
                Outbox.body.is_not(None),
            )
            .values(body=None, recipient=None)
            .execution_options(synchronize_session=False)
        )
    )
    return report
