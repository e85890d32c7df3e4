"""GSM-7 / UCS-2 segment counting and keyword folding (pure functions, no services)."""

from __future__ import annotations

import pytest

from campaigns.notify.messages import TEMPLATES, number, render
from campaigns.notify.sms import count, fold, is_gsm7


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension characters count 2
        ("€" * 81, "GSM-7", 162, 2),
        ("a" * 159 + "€", "GSM-7", 161, 2),
        ("a" * 152 + "{" + "a" * 10, "GSM-7", 164, 2),  # the escape pair never straddles two parts
        ("Điểm", "UCS-2", 4, 1),
        ("ể" * 70, "UCS-2", 70, 1),
        ("ể" * 71, "UCS-2", 71, 2),
        ("ể" * 134, "UCS-2", 134, 2),
        ("ể" * 135, "UCS-2", 135, 3),
        ("a" * 159 + "ư", "UCS-2", 160, 3),  # one Vietnamese letter turns the whole message UCS-2
        ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: two UTF-16 units
        ("a" * 66 + "😀" + "a" * 66, "UCS-2", 134, 3),  # a surrogate pair is never split (naively 2)
        ("èéùìòÇØøÅåÆæßÉÄÖÑÜäöñüà¡¿£¥§", "GSM-7", 28, 1),
    ],
)
def test_segments(text, encoding, units, segments):
    info = count(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


def test_pair_packing_needs_one_more_part_at_the_boundary():
    # 152 plain + '{' (2) = 154 > 153: the '{' moves to part 2, which holds 2 + 10 units
    info = count("a" * 152 + "{" + "a" * 10)
    assert info.segments == 2 and info.remaining == 153 - 12
    assert count("a" * 153 + "{" + "a" * 9).segments == 2  # 153 | 2 + 9


def test_gsm7_charset_edges():
    assert is_gsm7("Hello @ £ $ _ ! ? \n")
    assert not is_gsm7("ê")  # not in GSM 03.38 (only è é)
    assert not is_gsm7("`")
    assert not is_gsm7("á")


def test_fold_strips_vietnamese_diacritics_and_d_stroke():
    assert fold("điểm") == "DIEM"
    assert fold("Đổi quà ok") == "DOI QUA OK"
    assert fold("hạng") == "HANG"
    assert fold("từ chối") == "TU CHOI"
    assert fold("ĐIỂM") == "DIEM"


def test_vietnamese_numbers_and_templates():
    assert number(1200, "vi") == "1.200" and number(1200, "en") == "1,200"
    assert number(1_234_567, "vi") == "1.234.567"
    assert set(TEMPLATES) >= {"points_earned", "points_expiring", "tier_changed", "redemption_issued", "otp"}
    for name, msgid in TEMPLATES.items():  # every template reads differently in Vietnamese (the catalog has it)
        assert render(name, {}, "en") == msgid.strip(), name
        assert name == "sms_reply" or render(name, {}, "vi") != msgid.strip(), name
    text = render("points_earned", {"points": "60", "balance": "1.260"}, "vi")
    assert text == "Bạn vừa nhận 60 điểm. Số dư: 1.260 điểm."
    assert count(text).encoding == "UCS-2" and count(text).segments == 1
    assert count(render("points_earned", {"points": "60", "balance": "1,260"}, "en")).encoding == "GSM-7"
