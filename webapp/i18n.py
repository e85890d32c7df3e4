"""Flask-Babel over the one catalog of ``campaigns.i18n``: the request's language and the template filters.

The language of a page: the portal's customer (or the language the visitor picked there); on the staff console
the signed-in user's choice, else the programme's ``language`` setting (Vietnamese for a new install); on
the sign-in page, where nobody is known yet, a browser that asks for one of our languages gets it. Times are
shown in the programme's ``timezone`` with the zone named; numbers and money in the page's language.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from babel.support import NullTranslations, Translations
from flask import Flask, g, request, session
from flask_babel import Babel, Domain, get_locale
from flask_login import current_user

from campaigns import i18n
from campaigns.catalog import programme

from .extensions import db_session


class _CatalogDomain(Domain):
    """Flask-Babel's gettext answered from ``campaigns.i18n`` (the ``.po`` files compiled in memory once)."""

    def get_translations(self) -> Translations | NullTranslations:
        return i18n.translations(i18n.language_of(str(get_locale() or "")))


class _CatalogBabel(Babel):
    @property
    def domain_instance(self) -> Domain:
        return _CatalogDomain()


def _programme() -> programme.Programme:
    if "programme_settings" not in g:
        g.programme_settings = programme.load(db_session())
    settings: programme.Programme = g.programme_settings
    return settings


def select_language() -> str:
    portal = g.get("portal_lang")
    if portal:
        return str(portal)
    if request.blueprint == "portal":
        return i18n.language_of(session.get("portal_lang"))
    if current_user.is_authenticated and getattr(current_user, "language", None):
        return str(current_user.language)
    if not current_user.is_authenticated:
        asked = request.accept_languages.best_match(i18n.LANGUAGES)
        if asked:
            return asked
    return i18n.language_of(_programme().language)


def select_timezone() -> str:
    return _programme().timezone


def language() -> str:
    """The current page's language (vi | en)."""
    return i18n.language_of(str(get_locale() or ""))


def zone() -> str:
    return _programme().timezone


def csv_time(value: datetime | None) -> str:
    """A stored time in a CSV export: ISO 8601 in the programme's zone, offset included (``+07:00``)."""
    return "" if value is None else i18n.local(value, zone()).isoformat()


def _number(value: Any) -> str:
    return i18n.number(int(value or 0), language())


def _when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time on a staff page, in the programme's zone (the page names the zone: ``zone_label()``)."""
    return "—" if value is None else i18n.local(value, zone()).strftime(fmt)


def _num(value: Any) -> str:
    """A count on a staff page: ``1.234`` in Vietnamese, ``1,234`` in English; a non-number as it is."""
    if value is None:
        return "—"
    try:
        return i18n.number(int(value), language())
    except (TypeError, ValueError):
        return str(value)


def _money(value: Any) -> str:
    return i18n.money(int(value or 0), language())


def _moment(value: datetime | None) -> str:
    return i18n.moment(value, language(), zone())


def _day(value: date | datetime | str | None) -> str:
    return i18n.day(value, language(), zone()) if value else ""


def _localized(value: Any) -> str:
    return i18n.localized(value, language())


def init_i18n(app: Flask) -> None:
    _CatalogBabel(app, locale_selector=select_language, timezone_selector=select_timezone)
    app.jinja_env.filters.update(
        number=_number,
        money=_money,
        moment=_moment,
        day=_day,
        localized=_localized,
        vnum=_number,
        vday=_day,
        when=_when,
        num=_num,
    )
    app.jinja_env.globals.update(page_language=language, zone_label=lambda: i18n.zone_label(zone()))
