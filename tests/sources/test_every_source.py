"""Hostile but honest input, tried on every source in the registry (``tests/samples.py`` gives
each a sample of its real file): figures dated after the ingest day, a file cut off mid-row, a
column named twice, a folder or a missing path, dates nowcast cannot hold, other separators
and encodings. Each is refused with a ``SourceError`` naming the file, the line and the field,
and a refused file leaves the store byte for byte as it was."""

from __future__ import annotations

import pandas as pd
import pytest

from nowcast.errors import SourceError
from nowcast.sources import SOURCES
from nowcast.sources.base import TODAY_ENV
from nowcast.store import Store
from tests.samples import TODAY, figures, join_rows, samples, split_rows

NAMES = sorted(SOURCES)


@pytest.fixture(autouse=True)
def ingest_day(monkeypatch):
    monkeypatch.setenv(TODAY_ENV, TODAY)


def _write(tmp_path, name: str, data: str | bytes):
    path = tmp_path / name
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8", newline="")
    return path


def _refused(source, path, *, line: int | None, fields: set[str] | None = None) -> SourceError:
    with pytest.raises(SourceError) as err:
        source.load(path)
    exc = err.value
    assert exc.path == path and str(path) in str(exc)
    if line is not None:
        assert exc.line == line, str(exc)
        assert f"line {line}" in str(exc)
    if fields is not None:
        assert exc.field in fields, str(exc)
        assert f"field '{exc.field}'" in str(exc)
    return exc


def test_every_source_has_a_sample():
    missing = sorted(set(SOURCES) - set(samples()))
    assert not missing, (
        f"no sample for {missing}: bundle a file in data/ and list it in MANIFEST.toml, or add"
        " it to EXTRA_SAMPLES in tests/samples.py"
    )


@pytest.mark.parametrize("name", NAMES)
def test_sample_loads(name, tmp_path):
    sample = samples()[name]
    path = _write(tmp_path, sample.name, sample.text)
    assert len(sample.source.load(path)) > 0
    header = sample.rows[0]
    assert set(sample.source.period_fields) <= set(header), "period_fields must name columns"


@pytest.mark.parametrize("name", NAMES)
def test_future_row_is_refused(name, tmp_path):
    """Rows moved into 2030-2031 (the whole last period, so cross-row checks still hold)."""
    sample = samples()[name]
    rows = sample.rows
    future = sample.moved_to(sample.last_period_rows(), 2030)
    path = _write(tmp_path, sample.name, join_rows([*rows, *future]))
    src = sample.source
    fields = set(src.period_fields) | ({"published"} if src.published_in_file else set())
    exc = _refused(src, path, line=len(rows) + 1, fields=fields)
    assert "ingest day 2026-06-30" in str(exc)


@pytest.mark.parametrize("name", NAMES)
def test_future_publication_date_is_refused(name, tmp_path):
    """``--published`` after the ingest day: refused naming the option."""
    sample = samples()[name]
    path = _write(tmp_path, sample.name, sample.text)
    with pytest.raises(SourceError, match="field '--published'.*after the ingest day"):
        sample.source.load(path, published=pd.Timestamp("2026-07-01"))


def _cuts(line: str) -> list[int]:
    """Where an interrupted download may stop inside a line: a few characters in, in the
    middle, just before the end."""
    n = len(line)
    return sorted({1, n // 3, n // 2, n - 3, n - 2, n - 1} & set(range(1, n)))


@pytest.mark.parametrize("name", NAMES)
def test_truncated_last_line_is_refused(name, tmp_path):
    """The file cut inside its last line: refused naming that line, unless the cut falls in a
    hand-kept file's closing note, where it changes no figure."""
    sample = samples()[name]
    text = sample.text
    body, last = text[:-1].rsplit("\n", 1)
    n_lines = text.count("\n")
    clean = figures(sample.source.load(_write(tmp_path, "clean_" + sample.name, text)))
    for cut in _cuts(last):
        path = _write(tmp_path, sample.name, f"{body}\n{last[:cut]}")
        try:
            obs = sample.source.load(path)
        except SourceError as exc:
            assert exc.line == n_lines, f"cut at {cut}: {exc}"
            assert sample.name in str(exc)
            continue
        header = sample.rows[0]
        assert header[-1] == "note", f"cut at {cut} accepted: {last[:cut]!r}"
        (cells,) = split_rows(last[:cut] + '"' * (last[:cut].count('"') % 2))
        assert cells[:-1] == split_rows(last)[0][:-1], f"cut at {cut} outside the note"
        pd.testing.assert_frame_equal(figures(obs), clean)


@pytest.mark.parametrize("name", NAMES)
def test_last_line_with_fewer_fields_is_refused(name, tmp_path):
    sample = samples()[name]
    header, *data = sample.rows
    short = data[-1][: len(header) - 1]
    path = _write(tmp_path, sample.name, join_rows([header, *data[:-1], short]))
    exc = _refused(sample.source, path, line=len(data) + 1, fields={header[-1]})
    assert f"{len(header) - 1} of the header's {len(header)} fields" in str(exc)


@pytest.mark.parametrize("name", NAMES)
def test_row_with_more_fields_is_refused(name, tmp_path):
    sample = samples()[name]
    header, *data = sample.rows
    rows = [header, *data[:2], [*data[2], "1.5"], *data[3:]]
    path = _write(tmp_path, sample.name, join_rows(rows))
    _refused(sample.source, path, line=4)


@pytest.mark.parametrize("name", NAMES)
def test_duplicated_column_is_refused(name, tmp_path):
    """``Price,Date,Price``: the second copy of a column, with other cells, was ignored."""
    sample = samples()[name]
    header, *data = sample.rows
    first = header[0]
    rows = [[*header, first], *[[*r, r[-1]] for r in data]]
    path = _write(tmp_path, sample.name, join_rows(rows))
    exc = _refused(sample.source, path, line=1, fields={first})
    assert f"columns 1 and {len(header) + 1}" in str(exc)


@pytest.mark.parametrize("name", NAMES)
def test_folder_or_missing_path_is_refused(name, tmp_path):
    source = samples()[name].source
    with pytest.raises(SourceError, match="is a folder: expected a file"):
        source.load(tmp_path)
    with pytest.raises(SourceError, match="file not found"):
        source.load(tmp_path / "nothing.csv")


@pytest.mark.parametrize("name", NAMES)
def test_date_before_1678_is_a_clear_error(name, tmp_path):
    """A valid date pandas cannot hold (before 1677-09-22) raised OutOfBoundsDatetime."""
    sample = samples()[name]
    header, *data = sample.rows
    old = sample.moved_to(data[:1], 1500)
    path = _write(tmp_path, sample.name, join_rows([header, *old, *data[1:]]))
    exc = _refused(sample.source, path, line=2, fields={header[i] for i in sample.date_columns()})
    assert "nowcast can hold" in str(exc)


@pytest.mark.parametrize("name", NAMES)
def test_semicolon_separated_file_is_named_as_such(name, tmp_path):
    sample = samples()[name]
    text = "\n".join(";".join(r) for r in sample.rows) + "\n"
    path = _write(tmp_path, sample.name, text)
    exc = _refused(sample.source, path, line=1)
    assert "separated by semicolons: expected a comma-separated file" in str(exc)


@pytest.mark.parametrize("name", NAMES)
def test_other_encodings_are_refused(name, tmp_path):
    sample = samples()[name]
    _refused(sample.source, _write(tmp_path, sample.name, sample.text.encode("utf-16")), line=1)
    # one line re-encoded as UTF-16 without a byte-order mark: NUL bytes in UTF-8 text
    lines = sample.text.splitlines(keepends=True)
    mixed = "".join(lines[:3]).encode() + lines[3].encode("utf-16-le") + "".join(lines[4:]).encode()
    exc = _refused(sample.source, _write(tmp_path, sample.name, mixed), line=4)
    assert "NUL byte" in str(exc)
    # one line saved as UTF-8 with a byte-order mark: the mark would start a name or a date
    mixed = "".join(lines[:3]).encode() + lines[3].encode("utf-8-sig") + "".join(lines[4:]).encode()
    exc = _refused(sample.source, _write(tmp_path, sample.name, mixed), line=4)
    assert "invisible character U+FEFF" in str(exc)


@pytest.mark.parametrize("name", NAMES)
def test_refused_file_leaves_the_store_byte_identical(name, tmp_path):
    sample = samples()[name]
    clean = _write(tmp_path, sample.name, sample.text)
    (tmp_path / "bad").mkdir()
    with Store(tmp_path / "store") as store:
        store.ingest(clean, name)
        before = store.path.read_bytes()
        header, *data = sample.rows
        future = join_rows([header, *data, *sample.moved_to(sample.last_period_rows(), 2030)])
        twice = join_rows([[*header, header[0]], *[[*r, r[-1]] for r in data]])
        short = join_rows([header, *data[:-1], data[-1][:-1]])
        for i, text in enumerate([future, twice, short]):
            bad = _write(tmp_path / "bad", f"{i}_{sample.name}", text)
            with pytest.raises(SourceError):
                store.ingest(bad, name)
            assert store.path.read_bytes() == before
        assert sorted(p.name for p in store.directory.iterdir()) == [
            "nowcast.duckdb",
            "nowcast.lock",
        ]
