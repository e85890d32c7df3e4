"""Reading provider files as streams: format detection, CSV/NDJSON rows, truncation detection.

Nothing here touches the database. A file is read once, line by line, from a
raw or gzip stream (detected by its magic bytes, never by its name), so memory
stays flat whatever the size. Problems come in two sizes:

* a :class:`FileProblem` is about the file as a whole (not CSV/NDJSON, a wrong
  header, a gzip stream cut off, an unterminated quote, a last line cut in the
  middle): it names the line and stops the import;
* a :class:`RowProblem` is about one row: it is reported and the import goes on.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from campaigns.errors import DomainError, FieldProblem

GZIP_MAGIC = b"\x1f\x8b"
OTHER_FORMATS = {
    b"PK\x03\x04": "a zip archive (an .xlsx workbook is one too)",
    b"BZh": "a bzip2 file",
    b"\xfd7zXZ\x00": "an xz file",
    b"(\xb5/\xfd": "a zstd file",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
}
CSV, NDJSON = "csv", "ndjson"
FORMATS = (CSV, NDJSON)
READ_BUFFER = 1 << 20

# CSV columns of a transaction file: the API fields, customer fields flattened, attributes.* for attributes.
TXN_COLUMNS = ("provider_txn_id", "phone", "national_id", "amount", "currency", "category", "channel", "occurred_at")
TXN_REQUIRED = ("provider_txn_id", "amount", "occurred_at")
# CSV columns of a customer migration file; phone, points, expires_at and tags may hold several values split by
# ';'; attributes.<name> columns set customer attributes (declared in the setting customer_attributes).
CUSTOMER_COLUMNS = (
    "customer_ref",
    "phone",
    "national_id",
    "tier",
    "birth_date",
    "points",
    "expires_at",
    "member_since",
    "tags",
)
CUSTOMER_REQUIRED = ("customer_ref",)
ATTRIBUTE_PREFIX = "attributes."
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_INT = re.compile(r"^-?(0|[1-9][0-9]{0,17})$")
_DECIMAL = re.compile(r"^-?(0|[1-9][0-9]{0,17})\.[0-9]{1,12}$")


class FileProblem(DomainError):
    """The file cannot be read on from ``line``: a 422 before the import starts, ``failed`` after."""

    def __init__(self, line: int, reason: str, path: str = "file") -> None:
        message = f"line {line}: {reason}"
        super().__init__("invalid_file", message, [FieldProblem(path, message)], 422)
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One rejected row for the error report."""

    line: int
    ref: str | None
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Row:
    """One record of the file: its first line, where it starts, and the API-shaped body (or why it has none)."""

    line: int
    offset: int
    data: dict[str, Any] | None
    ref: str | None = None
    problem: RowProblem | None = None


@dataclass
class FileInfo:
    """What a look at the head of a file tells: format, compression, size, header, identity."""

    path: Path
    format: str
    compressed: bool
    size: int
    fingerprint: str
    header: list[str] = field(default_factory=list)

    @property
    def compression(self) -> str | None:
        return "gzip" if self.compressed else None


def fingerprint(path: Path, size: int) -> str:
    """Identity of a file's content without reading it all: size, first and last MiB."""
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if size > 2 << 20:
            f.seek(size - (1 << 20))
        h.update(f.read(1 << 20))
    return h.hexdigest()


def _binary(stream: IO[bytes], compressed: bool) -> IO[bytes]:
    return gzip.GzipFile(fileobj=stream, mode="rb") if compressed else stream  # type: ignore[return-value]


def inspect(path: Path, kind: str, fmt: str | None = None) -> FileInfo:
    """Detect compression and format and check the header, reading only the first line.

    Raises :class:`FileProblem` for what can be known up front; a file cut off
    further down is only found while reading it (the import then ends ``failed``).
    """
    size = os.path.getsize(path)
    if size == 0:
        raise FileProblem(1, "the file is empty")
    with open(path, "rb") as raw:
        magic = raw.read(4096)
        raw.seek(0)
        compressed = magic.startswith(GZIP_MAGIC)
        for sig, what in OTHER_FORMATS.items():
            if magic.startswith(sig):
                raise FileProblem(1, f"this is {what}, not CSV or NDJSON (gzip is the only compression accepted)")
        if not compressed and b"\x00" in magic:
            raise FileProblem(1, "binary data (NUL bytes): not a CSV or NDJSON text file")
        stream = _binary(raw, compressed)
        try:
            first = stream.readline(1 << 16)
        except (OSError, EOFError, zlib.error) as exc:
            raise FileProblem(1, f"not a readable gzip stream ({_gzip_reason(exc)})") from None
    text = _decode_head(first)
    stripped = text.strip()
    if not stripped:
        raise FileProblem(1, "the first line is empty; a CSV file starts with its header row, NDJSON with an object")
    detected = NDJSON if stripped.startswith("{") else CSV
    if stripped.startswith("["):
        raise FileProblem(1, "a JSON array is not NDJSON: write one JSON object per line")
    if fmt is not None and fmt != detected:
        raise FileProblem(1, f"the file looks like {detected.upper()}, not {fmt.upper()}")
    info = FileInfo(path, detected, compressed, size, fingerprint(path, size))
    if detected == CSV:
        if not first.endswith(b"\n") and len(first) >= 1 << 16:
            raise FileProblem(1, "the header line is longer than 64 KiB: this is not a CSV file")
        info.header = check_header(next(csv.reader([text])), kind)
    return info


def _gzip_reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "the compressed stream ends before its end marker: the file is truncated"
    return str(exc) or exc.__class__.__name__


def _decode_head(first: bytes) -> str:
    if b"\x00" in first:
        raise FileProblem(1, "binary data (NUL bytes): not a CSV or NDJSON text file")
    try:
        return first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileProblem(1, "the header is not UTF-8 text: not a CSV or NDJSON file, or not saved as UTF-8") from None


def _column(name: str) -> str:
    """Column names are case-insensitive, except attribute keys (``attributes.planCode`` stays as written)."""
    name = name.strip()
    if name.lower().startswith(ATTRIBUTE_PREFIX):
        return ATTRIBUTE_PREFIX + name[len(ATTRIBUTE_PREFIX) :]
    return name.lower()


def check_header(names: list[str], kind: str) -> list[str]:
    """Normalised column names, or a FileProblem naming what is missing, unknown or repeated."""
    header = [_column(n) for n in names]
    known, required = (TXN_COLUMNS, TXN_REQUIRED) if kind == "transactions" else (CUSTOMER_COLUMNS, CUSTOMER_REQUIRED)
    problems: list[str] = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            problems.append(f"column '{name}' appears twice")
        seen.add(name)
        if name.startswith(ATTRIBUTE_PREFIX):
            if not ATTRIBUTE_KEY.match(name[len(ATTRIBUTE_PREFIX) :]):
                problems.append(
                    f"'{name}' is not a valid attribute column (attributes.<key>, key [A-Za-z_][A-Za-z0-9_]*)"
                )
        elif name not in known:
            problems.append(f"unknown column '{name}'" if name else "a column has no name")
    missing = [c for c in required if c not in seen]
    if missing:
        problems.insert(0, "missing required column(s) " + ", ".join(f"'{c}'" for c in missing))
    if "phone" not in seen and "national_id" not in seen:
        problems.insert(0, "give a 'phone' or a 'national_id' column")
    if problems:
        allowed = ", ".join(known) + ", attributes.<key>"
        raise FileProblem(1, "wrong header: " + "; ".join(problems) + f" (columns: {allowed})", path="header")
    return header


class LineStream:
    """Decoded, numbered lines of a raw or gzip file; knows its offsets and catches truncation.

    ``offset`` counts (decompressed) bytes consumed, so a resume can seek
    straight to the chunk it stopped at instead of parsing everything before it.
    """

    def __init__(self, path: Path, compressed: bool) -> None:
        self.raw = open(path, "rb", buffering=READ_BUFFER)  # noqa: SIM115 (closed by close())
        self.stream = _binary(self.raw, compressed)
        self.line = 0
        self.offset = 0
        self.bad_utf8: set[int] = set()
        self.last_unterminated = False

    def position(self) -> int:
        """Bytes of the file read so far (compressed bytes for gzip): progress and ETA."""
        return self.raw.tell()

    def seek(self, offset: int, line: int) -> None:
        """Continue at ``offset`` (a line start) as if ``line`` lines had been read; gzip decompresses up to it."""
        try:
            self.stream.seek(offset)
        except (OSError, EOFError, zlib.error) as exc:
            raise FileProblem(
                line + 1, f"cannot resume here: the gzip stream is cut off ({_gzip_reason(exc)})"
            ) from None
        self.offset, self.line = offset, line

    def close(self) -> None:
        self.raw.close()

    def __iter__(self) -> Iterator[str]:
        stream = self.stream
        while True:
            try:
                raw = stream.readline()
            except (OSError, EOFError, zlib.error) as exc:
                raise FileProblem(
                    self.line + 1, f"the gzip stream is cut off or corrupt ({_gzip_reason(exc)})"
                ) from None
            if not raw:
                return
            self.line += 1
            self.offset += len(raw)
            if not raw.endswith(b"\n"):
                self.last_unterminated = True
            try:
                text = raw.decode("utf-8-sig" if self.line == 1 else "utf-8")
            except UnicodeDecodeError:
                self.bad_utf8.add(self.line)
                text = raw.decode("utf-8", "replace")
            yield text


def typed_attribute(value: str) -> Any:
    """CSV cells are text; attributes that read as numbers or booleans become them (as in JSON).

    ``007`` stays text (a leading zero is a code, not a number); use NDJSON for exact types.
    """
    if _INT.match(value):
        return int(value)
    if _DECIMAL.match(value):
        return Decimal(value)
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    return value


def _csv_transaction(header: list[str], cells: list[str]) -> dict[str, Any]:
    """One CSV record in the API's JSON shape; empty cells are absent fields."""
    body: dict[str, Any] = {}
    customer: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for name, value in zip(header, cells, strict=True):
        if value == "":
            continue
        if name == "phone" or name == "national_id":
            customer[name] = value
        elif name.startswith(ATTRIBUTE_PREFIX):
            attributes[name[len(ATTRIBUTE_PREFIX) :]] = typed_attribute(value)
        else:
            body[name] = value
    body["customer"] = customer
    if attributes:
        body["attributes"] = attributes
    return body


def _csv_customer(header: list[str], cells: list[str]) -> dict[str, Any]:
    """One migration record; ``attributes.<name>`` cells become the ``attributes`` object, typed as in JSON."""
    body: dict[str, Any] = {}
    for name, value in zip(header, cells, strict=True):
        if value == "":
            continue
        if name.startswith(ATTRIBUTE_PREFIX):
            body.setdefault("attributes", {})[name[len(ATTRIBUTE_PREFIX) :]] = typed_attribute(value)
        else:
            body[name] = value
    return body


REF_FIELD = {"transactions": "provider_txn_id", "customers": "customer_ref"}


def read_rows(info: FileInfo, kind: str, lines: LineStream, resume: tuple[int, int] | None = None) -> Iterator[Row]:
    """Every record of the file in order, each with its first line; ``resume`` = (offset, lines before it)."""
    if info.format == NDJSON:
        if resume:
            lines.seek(*resume)
        yield from _ndjson_rows(lines, kind)
    else:
        yield from _csv_rows(lines, kind, resume)


def _ref_of(data: Any, kind: str) -> str | None:
    if isinstance(data, dict):
        value = data.get(REF_FIELD[kind])
        return None if value is None else str(value)[:100]
    return None


def _ndjson_rows(lines: LineStream, kind: str) -> Iterator[Row]:
    offset = lines.offset
    for text in lines:
        n, start, offset = lines.line, offset, lines.offset
        stripped = text.strip()
        if not stripped:
            continue
        if n in lines.bad_utf8:
            yield Row(n, start, None, problem=RowProblem(n, None, "row", "not valid UTF-8 text"))
            continue
        try:
            data = json.loads(stripped, parse_float=Decimal, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            if lines.last_unterminated:
                raise FileProblem(
                    n, f"the last line is not complete JSON and has no line break: the file is truncated ({exc})"
                ) from None
            yield Row(n, start, None, problem=RowProblem(n, None, "row", f"not valid JSON: {exc}"))
            continue
        yield Row(n, start, data, _ref_of(data, kind))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _csv_rows(lines: LineStream, kind: str, resume: tuple[int, int] | None) -> Iterator[Row]:
    reader = csv.reader(lines, strict=True)
    try:
        header = check_header(next(reader), kind)
    except StopIteration:
        raise FileProblem(1, "the file is empty") from None
    if resume:
        lines.seek(*resume)
    width = len(header)
    make = _csv_transaction if kind == "transactions" else _csv_customer
    ref_at = header.index(REF_FIELD[kind])
    while True:
        start, offset = lines.line + 1, lines.offset  # csv pulls lines one by one: these are exact
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise FileProblem(
                    start,
                    "a quoted field starting on this line is never closed: the file is truncated or a quote is missing",
                ) from None
            yield Row(start, offset, None, problem=RowProblem(start, None, "row", f"malformed CSV: {exc}"))
            continue
        end = lines.line
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue
        ref = cells[ref_at][:100] if len(cells) > ref_at and cells[ref_at] else None
        if len(cells) != width:
            if lines.last_unterminated and len(cells) < width:
                raise FileProblem(
                    start, f"the last line has {len(cells)} of {width} columns and no line break: the file is truncated"
                )
            problem = RowProblem(start, ref, "row", f"expected {width} columns, found {len(cells)}")
            yield Row(start, offset, None, ref, problem)
            continue
        if any(n in lines.bad_utf8 for n in range(start, end + 1)):
            yield Row(start, offset, None, ref, RowProblem(start, ref, "row", "not valid UTF-8 text"))
            continue
        yield Row(start, offset, make(header, cells), ref)
