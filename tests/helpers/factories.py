"""Providers with API keys and staff users, made through the services the CLI and the admin UI use."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

PASSWORD = "correct horse battery"


@dataclass
class ProviderKey:
    code: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def make_provider(app: Flask, code: str, name: str | None = None) -> ProviderKey:
    from campaigns.access.providers import create_provider
    from webapp.extensions import db

    with app.app_context():
        _, key = create_provider(db.session, code, name or code.title())
        db.session.commit()
    return ProviderKey(code, key)


def make_staff_key(app: Flask) -> dict[str, str]:
    """A staff API key's Authorization header."""
    from campaigns.access.providers import issue_key
    from webapp.extensions import db

    with app.app_context():
        key = issue_key(db.session, "staff", "test staff")
        db.session.commit()
    return {"Authorization": f"Bearer {key}"}


def make_user(
    app: Flask, email: str, role: str, provider: str | None = None, password: str = PASSWORD, language: str = "en"
) -> str:
    """A staff user; in English unless asked (the tests assert English page text; a new install is Vietnamese)."""
    from campaigns.access.users import create_user
    from webapp.extensions import db

    with app.app_context():
        create_user(db.session, email, password, role, provider_code=provider).language = language or None
        db.session.commit()
    return email
