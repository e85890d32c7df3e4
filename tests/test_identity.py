"""Phone and national-ID normalisation (pure)."""

from __future__ import annotations

import pytest

from campaigns.customers.identity import normalize_national_id, normalize_phone


@pytest.mark.parametrize("raw", ["0912 345 678", "+84912345678", "84912345678", "(+84) 912-345-678", " 0912.345.678 "])
def test_vietnamese_phone_formats_are_one_identity(raw: str) -> None:
    assert normalize_phone(raw) == "+84912345678"


@pytest.mark.parametrize("raw", ["", "12345", "0912", "abcdefghij", "+1 555", "091234567890123"])
def test_invalid_phones_are_rejected_with_a_reason(raw: str) -> None:
    with pytest.raises(ValueError) as exc:
        normalize_phone(raw)
    assert str(exc.value)


@pytest.mark.parametrize(("raw", "expected"), [("123456789", "123456789"), ("001 099 012 345", "001099012345")])
def test_national_ids(raw: str, expected: str) -> None:
    assert normalize_national_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "12345678",
        "1234567890",
        "12345678901",
        "1234567890123",
        "12345678a",
        "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19",
        "-12345678",
    ],
)
def test_bad_national_ids(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_national_id(raw)


def test_the_fast_reading_of_plain_vietnamese_numbers_agrees_with_the_full_parse() -> None:
    """Random national numbers (valid and not) in the plain shapes, with and without separators: the shortcut and
    ``phonenumbers`` give the same E.164 form or both refuse."""
    import random

    from campaigns.customers.identity import _normalize_phone, _parse_phone

    rng = random.Random(18)
    seen = {"fast": 0, "refused": 0}
    for _ in range(20_000):
        national = str(rng.randint(100_000_000, 999_999_999))
        spaced = "".join(ch + (rng.choice(" .-") if rng.random() < 0.2 else "") for ch in national)
        for raw in (f"0{national}", f"+84{national}", f"84{national}", f"0{spaced}", f"+84 {spaced}"):
            try:
                expected: str | None = _parse_phone(raw, raw, "VN")
            except ValueError:
                expected = None
            try:
                got: str | None = _normalize_phone(raw, "VN")
            except ValueError:
                got = None
            assert got == expected, raw
            seen["fast" if got else "refused"] += 1
    assert seen["fast"] > 10_000 and seen["refused"] > 10_000  # both sides of the shortcut were exercised
