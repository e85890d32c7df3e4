"""Providers, staff users and API keys (``campaigns.access``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.clock import utcnow
from campaigns.models.base import Base, UTCDateTime


class Provider(Base):
    """A company of the group that posts transactions (telecom, post office, bank...)."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200), nullable=True)  # customers reading English; None: name
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # the mobile operator whose number lifecycle events (release, SIM swap) the programme trusts
    phone_authority: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


UserOrigin = Literal["local", "oidc", "ldap"]  # where a staff user signs in: our password, OpenID Connect, LDAP
StaffLanguage = Literal["vi", "en"]


class StaffUser(Base):
    """A person working in the staff UI; a user with a provider only ever sees that provider's data.

    Directory users (``origin`` ``oidc``/``ldap``) are provisioned at their first sign-in and re-read
    at every later one (role and provider come from their directory groups); ``external_subject`` is
    the directory's stable id for them. ``break_glass`` local accounts may sign in with a password
    even when local sign-in is switched off.
    """

    __tablename__ = "staff_users"
    __table_args__ = (UniqueConstraint("origin", "external_subject", name="uq_staff_users_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))  # admin | marketer | analyst | care | provider | finance
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the session generation: bumped on password change, deactivation or "end sessions": every older session ends
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    origin: Mapped[UserOrigin] = mapped_column(String(8), default="local", server_default="local")
    external_subject: Mapped[str | None] = mapped_column(String(255), nullable=True)
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # the console's language (StaffLanguage); None: the programme's ``language`` setting
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)


class ApiKey(Base):
    """A bearer secret; only its SHA-256 is kept (keys are 256-bit random, so no KDF is needed).

    ``kind``: ``provider`` (a provider's integration key), ``staff`` (a legacy
    management token: admin role) or ``user`` (a staff user's personal token,
    carrying that user's role and provider scope).
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # provider | staff | user
    name: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True, index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # a personal token's role when it was created: it stops working once its user's role differs
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
