"""The one translation catalog, and Vietnamese/English number, money and date formatting, usable without Flask.

Workers (SMS rendered outside any request), the CLI and the services translate with an explicit language;
the web reaches the same catalog through Flask-Babel (``webapp/i18n.py``). Message ids are the English text;
``campaigns/translations/<lang>/LC_MESSAGES/messages.po`` holds each language's ``msgstr`` (an empty English
``msgstr`` means the id itself). The ``.po`` files are compiled in memory on first use, so a fresh clone needs no
``pybabel compile`` step and a stale ``.mo`` can never be served; fuzzy entries are left out, as gettext does.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
CATALOG_DIR = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"


def language_of(value: str | None) -> str:
    """A supported language code; anything else (None, "fr", "vi_VN") is the programme's default."""
    if value and value[:2].lower() in LANGUAGES:
        return value[:2].lower()
    return DEFAULT_LANGUAGE


def environment_language() -> str:
    """The language of command-line output, from the environment as gettext reads it (LANGUAGE, LC_ALL,
    LC_MESSAGES, LANG): ``vi_VN.UTF-8`` gives Vietnamese; English otherwise, ``C`` and ``POSIX`` included."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            first = value.split(":")[0]
            return first[:2].lower() if first[:2].lower() in LANGUAGES else "en"
    return "en"


def po_path(language: str) -> Path:
    return CATALOG_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> Translations:
    """The compiled catalog of one language, loaded once per process."""
    with po_path(language_of(language)).open("rb") as f:
        catalog = read_po(f, locale=language_of(language), domain=DOMAIN)
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def N_(msgid: str) -> str:
    """Marks a message id for ``pybabel extract`` where it is declared; it is translated where it is used."""
    return msgid


def NC_(context: str, msgid: str) -> str:
    """Like ``N_``, for an id one context says differently (its msgctxt): ``NC_("ussd", "Sent")`` is the USSD
    menu's word, translated apart from the console's "Sent". Extracted by bin/i18n (``-k NC_:1c,2``)."""
    return f"{context}\x04{msgid}"


def gettext(language: str, msgid: str) -> str:
    """The translation; an id with a context (``NC_``) falls back to its text without the context."""
    return translations(language_of(language)).ugettext(msgid).rpartition("\x04")[2]


def translate(language: str, msgid: str, **values: Any) -> str:
    """The message in ``language`` with its ``{name}`` placeholders filled."""
    text = gettext(language, msgid)
    return text.format(**values) if values else text


def reason_sentence(language: str, reason: str) -> str:
    """A field reason (``"must be a number"``, English in the API) as a sentence a customer reads in ``language``:
    translated through the catalog when it is a catalog id, first letter capital, full stop."""
    text = gettext(language, reason).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


# ---------------------------------------------------------------------------------------------- bilingual content


def localized(value: Any, language: str) -> str:
    """A content name that is a plain string (the same in both languages) or ``{"vi": ..., "en": ...}``."""
    if isinstance(value, Mapping):
        picked = value.get(language_of(language)) or value.get(DEFAULT_LANGUAGE) or next(iter(value.values()), "")
        return str(picked)
    return "" if value is None else str(value)


# ---------------------------------------------------------------------------------------------- numbers and dates


def number(value: int | float, language: str) -> str:
    """``1.234.567`` in Vietnamese, ``1,234,567`` in English (whole numbers: points)."""
    return format_decimal(int(value), locale=language_of(language))


def money(value: int | float, language: str) -> str:
    """Integer VND: ``1.234.567 ₫`` in Vietnamese, ``₫1,234,567`` in English (a plain space, as people type it,
    rather than CLDR's no-break space, so texts and CSVs compare and search as written)."""
    text = format_currency(int(value), "VND", locale=language_of(language), format_type="standard")
    return text.replace("\xa0", " ")


def zone_of(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def local(value: datetime, zone: str | None = None) -> datetime:
    """A stored (UTC) time in the programme's zone; a naive time is taken as UTC, as the database stores it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone_of(zone))


def day(value: date | datetime | str, language: str, zone: str | None = None) -> str:
    """A calendar day: ``31/12/2026`` in Vietnamese, ``2026-12-31`` in English; a time is first put in ``zone``."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value.strip() else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = local(value, zone).date()
    return value.strftime("%d/%m/%Y") if language_of(language) == "vi" else value.isoformat()


def zone_label(zone: str | None = None) -> str:
    """How a page names the zone its times are in: ``UTC+07:00`` for Asia/Ho_Chi_Minh."""
    return offset_label(local(datetime.now(UTC), zone))


def moment(value: datetime | None, language: str, zone: str | None = None) -> str:
    """A time in the programme's zone with the zone shown: ``04/12/2026 23:15 (UTC+07:00)``."""
    if value is None:
        return ""
    when = local(value, zone)
    pattern = "dd/MM/yyyy HH:mm" if language_of(language) == "vi" else "yyyy-MM-dd HH:mm"
    return f"{format_datetime(when, pattern, locale=language_of(language))} ({offset_label(when)})"


def offset_label(when: datetime) -> str:
    offset = when.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
