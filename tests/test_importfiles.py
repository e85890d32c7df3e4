"""Reading import files without a database: detection, headers, line numbers, truncation, resume offsets."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from campaigns.imports.files import FileProblem, LineStream, inspect, read_rows, typed_attribute

HEADER = "provider_txn_id,phone,amount,occurred_at"


def _rows(path: Path, kind: str = "transactions", resume=None):
    info = inspect(path, kind)
    lines = LineStream(path, info.compressed)
    try:
        return info, list(read_rows(info, kind, lines, resume))
    finally:
        lines.close()


def test_bom_crlf_case_insensitive_header_and_quoted_newlines(tmp_path):
    path = tmp_path / "f.csv"
    text = (
        "\ufeffProvider_Txn_ID, Phone ,AMOUNT,occurred_at,attributes.planCode\r\n"
        'A,0912345678,10000,2026-11-20T09:00:00+07:00,"two\r\nlines"\r\n'
        "\r\n"
        "B,0912345678,20000,2026-11-20T09:00:00+07:00,007\r\n"
    )
    path.write_bytes(text.encode())
    info, rows = _rows(path)
    assert info.format == "csv" and not info.compressed
    assert info.header == ["provider_txn_id", "phone", "amount", "occurred_at", "attributes.planCode"]
    assert [r.line for r in rows] == [2, 5]  # the quoted field spans lines 2-3, line 4 is blank
    assert rows[0].data == {
        "provider_txn_id": "A",
        "customer": {"phone": "0912345678"},
        "amount": "10000",
        "occurred_at": "2026-11-20T09:00:00+07:00",
        "attributes": {"planCode": "two\r\nlines"},
    }
    assert rows[1].data["attributes"] == {"planCode": "007"}


def test_attribute_cells_become_numbers_and_booleans_like_json():
    assert typed_attribute("12") == 12 and typed_attribute("-3") == -3
    assert typed_attribute("1.50") == Decimal("1.50")
    assert typed_attribute("TRUE") is True and typed_attribute("false") is False
    assert typed_attribute("007") == "007" and typed_attribute("1e5") == "1e5" and typed_attribute("x") == "x"


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("provider_txn_id,amount,occurred_at", "give a 'phone' or a 'national_id' column"),
        ("provider_txn_id,phone,amount", "missing required column(s) 'occurred_at'"),
        (HEADER + ",colour", "unknown column 'colour'"),
        (HEADER + ",phone", "column 'phone' appears twice"),
        (HEADER + ",attributes.9x", "'attributes.9x' is not a valid attribute column"),
        (HEADER + ",", "a column has no name"),
    ],
)
def test_wrong_headers_name_line_one(tmp_path, header, words):
    path = tmp_path / "h.csv"
    path.write_text(header + "\n")
    with pytest.raises(FileProblem) as exc:
        inspect(path, "transactions")
    assert exc.value.line == 1 and words in exc.value.message and exc.value.message.startswith("line 1: wrong header")


def test_customer_header_and_format_override(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("customer_ref,phone,points,expires_at\nL1,0912345678,10,2030-01-01\n")
    assert inspect(path, "customers").header == ["customer_ref", "phone", "points", "expires_at"]
    with pytest.raises(FileProblem, match="unknown column 'points'"):
        inspect(path, "transactions")
    with pytest.raises(FileProblem, match="looks like CSV, not NDJSON"):
        inspect(path, "customers", "ndjson")


def test_row_problems_do_not_stop_reading(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(
        (HEADER + "\nA,1,2\n" + 'B,0912345678,"1"x,2026\n').encode() + b"C,\xff\xfe,1,2\n" + b"D,0912345678,1,2\n"
    )
    _, rows = _rows(path)
    assert [(r.line, r.ref, r.problem and r.problem.reason[:24]) for r in rows] == [
        (2, "A", "expected 4 columns, foun"),
        (3, None, "malformed CSV: ',' expec"),
        (4, "C", "not valid UTF-8 text"),
        (5, "D", None),
    ]


def test_truncations_are_file_problems_naming_the_line(tmp_path):
    row = "A,0912345678,10000,2026-11-20T09:00:00+07:00\n"
    cut_gzip = gzip.compress((HEADER + "\n" + row * 5000).encode())
    (tmp_path / "g").write_bytes(cut_gzip[: len(cut_gzip) // 2])
    info = inspect(tmp_path / "g", "transactions")  # the head is fine: only reading on finds the cut
    lines = LineStream(tmp_path / "g", True)
    seen = []
    with pytest.raises(FileProblem) as exc:
        for r in read_rows(info, "transactions", lines):
            seen.append(r.line)
    assert exc.value.line == seen[-1] + 1 and "cut off" in exc.value.message

    (tmp_path / "q.csv").write_text(HEADER + "\n" + row + 'B,"0912345678,1,2\n' + row)
    with pytest.raises(FileProblem, match="line 3: a quoted field starting on this line is never closed"):
        _rows(tmp_path / "q.csv")
    (tmp_path / "s.csv").write_text(HEADER + "\n" + row + "B,0912345678,100")
    with pytest.raises(FileProblem, match="line 3: the last line has 3 of 4 columns"):
        _rows(tmp_path / "s.csv")
    (tmp_path / "ok.csv").write_text(HEADER + "\n" + row + row.strip())  # a complete last line needs no newline
    assert len(_rows(tmp_path / "ok.csv")[1]) == 2
    obj = '{"provider_txn_id": "A", "amount": 1}'
    (tmp_path / "n.ndjson").write_text(obj + "\n" + obj[:20])
    with pytest.raises(FileProblem, match="line 2: the last line is not complete JSON"):
        _rows(tmp_path / "n.ndjson")
    (tmp_path / "m.ndjson").write_text(obj + "\n" + obj[:20] + "\n" + obj + "\n")  # mid-file: just a bad row
    rows = _rows(tmp_path / "m.ndjson")[1]
    assert [r.problem is None for r in rows] == [True, False, True]


@pytest.mark.parametrize("compressed", [False, True])
def test_resume_seeks_to_the_recorded_offset(tmp_path, compressed):
    body = (
        HEADER + "\n" + "".join(f"T{i},0912345678,{i + 1},2026-11-20T09:00:00+07:00\n" for i in range(100))
    ).encode()
    path = tmp_path / "x"
    path.write_bytes(gzip.compress(body) if compressed else body)
    _, rows = _rows(path)
    start = rows[60]
    _, again = _rows(path, resume=(start.offset, start.line - 1))
    assert [(r.line, r.ref) for r in again] == [(r.line, r.ref) for r in rows[60:]]
