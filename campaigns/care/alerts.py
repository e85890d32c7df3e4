"""Tiered alerts for the care centre: raised by the monitors, worked by staff.

Each monitor (SLA, claims deadlines, early warnings) computes the conditions
that hold *now* for its kind and hands the whole list to :func:`reconcile`.
That one function raises new alerts, updates live ones (count, oldest, a
severity that grew re-opens an acknowledged alert) and resolves those whose
condition has cleared, so a monitor never has to remember what it said before.
An alert that staff resolved while its condition persists is raised again on
the next pass, as a new alert that counts how often it came back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.clock import utcnow
from campaigns.errors import DomainError, invalid, not_found
from campaigns.models import Alert, AlertStatus, AuditEvent
from campaigns.permissions import Scope

SEVERITIES = ("warning", "overdue", "critical")
STATUSES: tuple[AlertStatus, ...] = ("open", "acknowledged", "resolved")
LIVE: tuple[AlertStatus, ...] = ("open", "acknowledged")
# Who an alert is in front of: the responsible provider's unit first, then its manager, then the programme admin.
ESCALATION = ("responsible unit", "provider manager", "programme admin")
MONITOR = "monitor"


@dataclass(slots=True)
class Condition:
    """What a monitor sees now; ``key`` identifies the condition across passes (e.g. ``sla:telecom``)."""

    key: str
    severity: str
    subject: str
    message: str
    suggested_action: str = ""
    provider_id: int | None = None
    count: int = 0
    oldest_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ReconcileReport:
    raised: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)


def rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def reconcile(
    session: Session, kind: str, conditions: Iterable[Condition], now: datetime | None = None
) -> ReconcileReport:
    """Make the live alerts of ``kind`` match ``conditions`` (the full list of what holds now)."""
    now = now or utcnow()
    report = ReconcileReport()
    wanted = {c.key: c for c in conditions}
    for c in wanted.values():
        if c.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {c.severity!r}")
    live = {
        a.key: a
        for a in session.scalars(select(Alert).where(Alert.kind == kind, Alert.status.in_(LIVE)).with_for_update())
    }
    for key, gone in live.items():
        if key not in wanted:
            _close(session, gone, MONITOR, "condition cleared", now)
            report.cleared.append(gone.id)
    for key, c in wanted.items():
        alert = live.get(key)
        if alert is None:
            report.raised.append(_raise(session, kind, c, now).id)
            continue
        grew = rank(c.severity) > rank(alert.severity)
        alert.severity, alert.subject, alert.message = c.severity, c.subject, c.message[:1000]
        alert.suggested_action, alert.count, alert.oldest_at = c.suggested_action[:1000], c.count, c.oldest_at
        alert.details, alert.seen_at = c.details, now
        if grew:
            alert.escalation = max(alert.escalation, _initial_escalation(c.severity))
            if alert.status == "acknowledged":
                alert.status, alert.acknowledged_at, alert.acknowledged_by = "open", None, None
                report.reopened.append(alert.id)
        report.updated.append(alert.id)
    session.flush()
    return report


def _initial_escalation(severity: str) -> int:
    return 1 if severity == "critical" else 0


def _raise(session: Session, kind: str, c: Condition, now: datetime) -> Alert:
    before = session.scalar(select(func.count()).select_from(Alert).where(Alert.key == c.key)) or 0
    alert = Alert(
        key=c.key,
        active_key=c.key,
        kind=kind,
        severity=c.severity,
        status="open",
        provider_id=c.provider_id,
        subject=c.subject[:200],
        message=c.message[:1000],
        suggested_action=c.suggested_action[:1000],
        count=c.count,
        oldest_at=c.oldest_at,
        details=c.details,
        escalation=_initial_escalation(c.severity),
        times_raised=before + 1,
        raised_at=now,
        seen_at=now,
    )
    session.add(alert)
    session.flush()
    return alert


def _close(session: Session, alert: Alert, actor: str, note: str, now: datetime) -> None:
    alert.status, alert.active_key = "resolved", None
    alert.resolved_at, alert.resolved_by, alert.resolution = now, actor, note[:1000]


def escalate_due(session: Session, now: datetime | None = None, *, after: timedelta = timedelta(minutes=30)) -> int:
    """Move open alerts nobody acknowledged one step up the escalation chain every ``after``."""
    now = now or utcnow()
    moved = 0
    for alert in session.scalars(
        select(Alert).where(Alert.status == "open", Alert.escalation < len(ESCALATION) - 1).with_for_update()
    ):
        if (alert.escalated_at or alert.raised_at) + after <= now:
            alert.escalation += 1
            alert.escalated_at = now
            session.add(
                AuditEvent(
                    actor=MONITOR,
                    action="alert.escalate",
                    object_type="alert",
                    object_id=str(alert.id),
                    details={"to": ESCALATION[alert.escalation], "key": alert.key},
                )
            )
            moved += 1
    session.flush()
    return moved


def get(session: Session, alert_id: int, scope: Scope) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or (scope.limited and alert.provider_id != scope.provider_id):
        raise not_found("alert")
    return alert


def acknowledge(session: Session, alert_id: int, scope: Scope, actor: str) -> Alert:
    """Someone owns it now: escalation stops until the condition grows worse."""
    alert = get(session, alert_id, scope)
    if alert.status != "open":
        raise DomainError("alert_not_open", f"alert {alert_id} is {alert.status}", status=409)
    alert.status, alert.acknowledged_at, alert.acknowledged_by = "acknowledged", utcnow(), actor
    session.add(AuditEvent(actor=actor, action="alert.acknowledge", object_type="alert", object_id=str(alert.id)))
    session.flush()
    return alert


def resolve(session: Session, alert_id: int, scope: Scope, actor: str, note: str) -> Alert:
    alert = get(session, alert_id, scope)
    note = (note or "").strip()
    if not note:
        raise invalid("resolution", "say what was done")
    if len(note) > 1000:
        raise invalid("resolution", "at most 1000 characters")
    if alert.status == "resolved":
        raise DomainError("alert_resolved", f"alert {alert_id} is already resolved", status=409)
    _close(session, alert, actor, note, utcnow())
    session.add(
        AuditEvent(
            actor=actor, action="alert.resolve", object_type="alert", object_id=str(alert.id), details={"note": note}
        )
    )
    session.flush()
    return alert


def list_alerts(
    session: Session,
    scope: Scope,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 200,
) -> list[Alert]:
    q = select(Alert)
    if status == "live":
        q = q.where(Alert.status.in_(LIVE))
    elif status in STATUSES:
        q = q.where(Alert.status == status)
    if kind:
        q = q.where(Alert.kind == kind)
    if scope.limited:
        q = q.where(Alert.provider_id == scope.provider_id)
    q = q.order_by(Alert.status != "open", Alert.severity == "warning", Alert.id.desc()).limit(limit)
    return list(session.scalars(q))


def live_counts(session: Session) -> dict[tuple[str, str], int]:
    """Live alerts by (kind, severity): the figure behind ``/metrics``' alerts gauge."""
    rows = session.execute(
        select(Alert.kind, Alert.severity, func.count())
        .where(Alert.status.in_(LIVE))
        .group_by(Alert.kind, Alert.severity)
    )
    return {(k, s): n for k, s, n in rows}
