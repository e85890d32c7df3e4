"""SMS text helpers: GSM-7 / UCS-2 segment counting and keyword folding.

Segment rules (3GPP TS 23.038 / 23.040):

* A message whose every character is in the GSM 03.38 default alphabet or its
  extension table is sent in GSM-7: 160 septets in one part, 153 per part when
  concatenated (the user data header takes 7). Extension characters
  (``^ { } \\ [ ~ ] | €`` and form feed) are an escape plus a septet: they count 2,
  and a part never ends between the escape and its character.
* Anything else (Vietnamese letters with diacritics such as ``ể``, ``đ``, ``ư``)
  forces UCS-2 for the whole message: 70 UTF-16 code units in one part, 67 per
  part when concatenated. Characters outside the BMP (emoji) are two code units
  and are never split across parts.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# GSM 03.38 default alphabet (basic character set), in table order.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
) - {"\x1b"}
# Extension table: each costs an escape septet plus its own.
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" | "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # capacity of one part for this message (single or concatenated)
    remaining: int  # units still free in the last part


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def _gsm_costs(text: str) -> list[int]:
    return [2 if ch in GSM7_EXTENDED else 1 for ch in text]


def _ucs2_costs(text: str) -> list[int]:
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _pack(costs: list[int], capacity: int) -> tuple[int, int]:
    """Parts needed when no character may straddle two parts; also the room left in the last one."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            parts += 1
            used = 0
        used += cost
    return parts, capacity - used


def count(text: str) -> SegmentInfo:
    """How many SMS parts ``text`` takes, and in which encoding."""
    gsm = is_gsm7(text)
    costs = _gsm_costs(text) if gsm else _ucs2_costs(text)
    single, multi = (GSM7_SINGLE, GSM7_MULTI) if gsm else (UCS2_SINGLE, UCS2_MULTI)
    units = sum(costs)
    encoding = "GSM-7" if gsm else "UCS-2"
    if units == 0:
        return SegmentInfo(encoding, 0, 0, single, single)
    if units <= single:
        return SegmentInfo(encoding, units, 1, single, single - units)
    parts, room = _pack(costs, multi)
    return SegmentInfo(encoding, units, parts, multi, room)


def fold(text: str) -> str:
    """Upper case without diacritics: ``điểm`` -> ``DIEM``, ``Đổi`` -> ``DOI`` (NFD, marks dropped, đ -> d)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped).upper()


def strip_accents(text: str) -> str:
    """Vietnamese without diacritics, case kept (for GSM-7 sending where a programme prefers it)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn"))
