"""Reading a publisher's file: its bytes, its text and its delimited rows as strings with the
file line of each (``read_table``), and the first few KB a recogniser looks at to tell whether
a file is in a source's format (``sniff``, ``csv_recogniser``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

import pandas as pd

from nowcast.errors import SourceError

LINE = "_line"  # file line of each parsed row, kept until observations are validated


# --------------------------------------------------------------------------- reading


def read_input(path: Path) -> bytes:
    """The bytes of an input file; a missing file, a folder or an unreadable file is a
    ``SourceError`` naming the path, never an ``OSError`` traceback."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SourceError(path, "file not found") from None
    except IsADirectoryError:
        raise SourceError(path, "is a folder: expected a file") from None
    except PermissionError:
        raise SourceError(path, "cannot read the file: permission denied") from None
    except OSError as exc:
        raise SourceError(path, f"cannot read the file: {exc.strerror or exc}") from None


def decode_text(path: Path, raw: bytes, encoding: str = "utf-8") -> str:
    """``raw`` as text without a byte-order mark; undecodable bytes and NUL characters (a
    UTF-16 file, binary junk) are refused naming their line."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SourceError(
            path,
            f"bytes at offset {exc.start} are not valid {encoding}: expected {encoding} text"
            " (re-save the file as UTF-8)",
            line=line,
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise SourceError(
            path,
            f"NUL byte in the text: expected {encoding} text (is the file UTF-16 or binary?)",
            line=line,
        )
    text = text.removeprefix("\ufeff")
    # A byte-order mark or a control character inside the text would end up in a name or a
    # value unseen (two files joined, a line pasted from another encoding): refuse it.
    odd = _INVISIBLE.search(text)
    if odd:
        raise SourceError(
            path,
            f"invisible character U+{ord(odd.group()):04X} in the text: expected plain"
            f" {encoding} text (were two files joined, or a line pasted from another file?)",
            line=text[: odd.start()].count("\n") + 1,
        )
    return text


_INVISIBLE = re.compile("[\ufeff\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Separators users' spreadsheets write instead of commas, with their names for messages.
_OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _records(path: Path, text: str, sep: str, skip_blank: bool) -> list[tuple[int, list[str]]]:
    """(first file line, cells) of every record; quoted cells may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    records = []
    last = 0
    try:
        for cells in reader:
            first, last = last + 1, reader.line_num
            if skip_blank and len(cells) <= 1 and not (cells and cells[0].strip()):
                continue
            records.append((first, cells))
    except csv.Error as exc:
        raise SourceError(path, f"malformed CSV: {exc}", line=reader.line_num) from None
    return records


def _header(path: Path, line: int, cells: list[str], sep: str) -> list[str]:
    """Column names, stripped; a name given twice or a file split by another separator is
    refused. An unnamed column is called ``(column N)``."""
    names = [c.strip() or f"(column {i + 1})" for i, c in enumerate(cells)]
    if len(names) == 1:
        for other, what in _OTHER_SEPARATORS.items():
            if other != sep and other in names[0]:
                raise SourceError(
                    path,
                    f"the header is separated by {what}: expected a comma-separated file"
                    " (re-export it as CSV with commas)",
                    line=line,
                )
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            raise SourceError(
                path,
                f"column appears twice in the header (columns {first[name] + 1} and {i + 1}):"
                " expected each column once",
                line=line,
                field=name,
            )
        first[name] = i
    return names


def read_table(
    path: Path,
    required: Iterable[str],
    *,
    encoding: str = "utf-8",
    sep: str = ",",
    skip_blank: bool = True,
    free_text: Collection[str] = (),
) -> pd.DataFrame:
    """Read a delimited text file as strings, with a ``_line`` column of file line numbers.

    Raises ``SourceError`` for a missing, unreadable or empty file, undecodable bytes, a
    header that names a column twice or is split by another separator, a missing column, a row
    with more or fewer cells than the header, and a file cut off mid-row: one whose last line
    has no newline. A publisher's file ends every row with a newline, so a missing one means an
    interrupted download or copy. Hand-kept files (``free_text`` lists their free-text
    columns) may lack it when their last column is free text: a cut there changes no figure.
    """
    raw = read_input(path)
    if not raw.strip():
        raise SourceError(path, "file is empty: expected a header line and data rows")
    text = decode_text(path, raw, encoding)
    records = _records(path, text, sep, skip_blank)
    if not records:
        raise SourceError(path, "file is empty: expected a header line and data rows")
    header_line, header_cells = records[0]
    columns = _header(path, header_line, header_cells, sep)
    missing = [c for c in required if c not in columns]
    if missing:
        raise SourceError(
            path,
            f"missing column(s) {missing}: expected header with {list(required)}",
            line=header_line,
        )
    rows = records[1:]
    if not rows:
        raise SourceError(path, "no data rows after the header")
    for line, cells in rows:
        if len(cells) < len(columns):
            raise SourceError(
                path,
                f"the row has {len(cells)} of the header's {len(columns)} fields: expected a"
                " cell for every column (is the row cut off?)",
                line=line,
                field=columns[len(cells)],
            )
        if len(cells) > len(columns):
            raise SourceError(
                path,
                f"the row has {len(cells)} fields but the header has {len(columns)}: expected"
                f" one cell per column (quote a cell that holds a {sep!r})",
                line=line,
            )
    if not text.endswith(("\n", "\r")) and columns[-1] not in free_text:
        raise SourceError(
            path,
            "the last line does not end with a newline: the file looks cut off mid-row"
            " (an interrupted download or copy); expected every row to end with a newline"
            " (download the file again, or add the newline if the row is complete)",
            line=rows[-1][0],
            field=columns[-1],
        )
    df = pd.DataFrame([cells for _, cells in rows], columns=columns, dtype=str)
    df[LINE] = [line for line, _ in rows]
    return df


# --------------------------------------------------------------------------- recognising

# How much of a file recognisers look at: enough for a header of a hundred Cyrillic region
# names (Rosstat's is under 4 KB) and a few dozen rows, never the whole file.
SNIFF_BYTES = 16 * 1024
SNIFF_ROWS = 50


def sniff(path: Path, size: int = SNIFF_BYTES) -> bytes | None:
    """The first ``size`` bytes of a regular file; ``None`` for anything that cannot be read
    (missing, a folder, a pipe, no permission): such a file is simply not recognised."""
    try:
        # A pipe or device would block or never end: only regular files are read.
        if not Path(path).is_file():
            return None
        with open(path, "rb") as f:
            return f.read(size)
    except (OSError, ValueError):
        return None


def head_rows(data: bytes, max_rows: int = SNIFF_ROWS) -> tuple[list[str], list[list[str]]] | None:
    """The header (names stripped) and up to ``max_rows`` data rows of the CSV text that begins
    with ``data``; ``None`` when it is not comma-separated UTF-8 text with a header."""
    if len(data) >= SNIFF_BYTES:
        # A cut inside a line (or inside a UTF-8 character) is not the file's content.
        end = data.rfind(b"\n")
        if end < 0:
            return None
        data = data[: end + 1]
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    rows: list[list[str]] = []
    try:
        for cells in csv.reader(io.StringIO(text, newline="")):
            if len(cells) <= 1 and not (cells and cells[0].strip()):
                continue  # blank line, as read_table skips it
            rows.append(cells)
            if len(rows) > max_rows:
                break
    except csv.Error:
        return None
    if not rows:
        return None
    return [c.strip() for c in rows[0]], rows[1:]


def csv_recogniser(
    required: Iterable[str],
    *,
    only: Iterable[str] | None = None,
    check: Callable[[list[str], list[list[str]]], bool] | None = None,
) -> Callable[[Path], bool]:
    """A ``Source.recognise`` for a CSV format: the header has every ``required`` column (and,
    with ``only``, no column outside ``only``), and ``check(header, rows)``, when given, holds
    for the header and the first rows. Never raises: an unreadable, binary or non-CSV file is
    not recognised."""
    need = frozenset(required)
    allowed = None if only is None else frozenset(only)

    def recognise(path: Path) -> bool:
        data = sniff(path)
        head = head_rows(data) if data else None
        if head is None:
            return False
        header, rows = head
        if not need <= set(header) or (allowed is not None and not set(header) <= allowed):
            return False
        if check is None:
            return True
        try:
            return bool(check(header, rows))
        except Exception:  # a content check on odd cells must not stop the other sources
            return False

    return recognise


def column_cells(header: list[str], rows: list[list[str]], column: str) -> list[str]:
    """The stripped cells of ``column`` in ``rows`` (rows too short for it are skipped)."""
    i = header.index(column)
    return [r[i].strip() for r in rows if len(r) > i]
