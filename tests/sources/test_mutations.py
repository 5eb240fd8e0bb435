"""Property: every source, fed random mutations of its real file (dropped, repeated and swapped
columns, shuffled rows, a line cut off, a line in another encoding), either refuses the file
with a ``SourceError`` naming it, leaving the store byte for byte as it was, or reads exactly
the clean file's figures (after a cut: some of them, each unchanged).

Profiles: ``ci`` (fixed examples, a few per source) runs in the default suite; ``long`` (many
random examples) runs under ``make test-slow``, or in place of ``ci`` with
``NOWCAST_HYPOTHESIS_PROFILE=long``."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nowcast.errors import SourceError
from nowcast.sources import SOURCES
from nowcast.store import Store
from tests.samples import TODAY, Sample, figures, join_rows, samples

PROFILE_ENV = "NOWCAST_HYPOTHESIS_PROFILE"
_COMMON = {
    "deadline": None,
    "database": None,  # no .hypothesis folder in the work tree
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=10, derandomize=True, **_COMMON)
settings.register_profile("long", max_examples=400, print_blob=True, **_COMMON)
DEFAULT_PROFILE = os.environ.get(PROFILE_ENV, "ci")

ENCODINGS = ["cp1251", "latin-1", "utf-16", "utf-16-le", "utf-8-sig"]
# Optional columns whose absence means a documented default: dropping one changes that field.
DEFAULTS = {"generic": {"region": "RU", "observer": "unspecified"}}
# Wide files with one column per region: dropping one drops that region's figures.
REGION_COLUMNS = {"rosstat_regional_production"}
NAMES = sorted(SOURCES)


@cache
def _clean(name: str) -> pd.DataFrame:
    sample = samples()[name]
    return figures(sample.source.load(_write(Path(_DIR[0]) / "clean", sample, sample.text)))


_DIR: list[str] = []


def _write(folder: Path, sample: Sample, data: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / sample.name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """One store per source holding its clean sample, opened once for all examples."""
    root = tmp_path_factory.mktemp("mutations")
    _DIR[:] = [str(root)]
    opened: dict[str, Store] = {}
    yield root, opened
    for store in opened.values():
        store.close()


def _store(stores, name: str) -> Store:
    root, opened = stores
    if name not in opened:
        sample = samples()[name]
        store = Store(root / "stores" / name)
        store.ingest(_write(root / "clean", sample, sample.text), name)
        opened[name] = store
    return opened[name]


@st.composite
def mutations(draw, sample: Sample) -> tuple[bytes, list[str]]:
    """One to three edits of the sample: column and row edits, then maybe a cut or a line in
    another encoding (those work on the bytes)."""
    rows = sample.rows
    drawn = draw(
        st.lists(st.sampled_from(["drop", "repeat", "swap", "shuffle"]), min_size=0, max_size=2)
    )
    kinds: list[str] = []  # what was done, for the oracle and the failure report
    for kind in drawn:
        width = len(rows[0])
        if kind == "drop" and width > 1:
            i = draw(st.integers(0, width - 1))
            kinds.append(f"drop:{rows[0][i]}")
            rows = [r[:i] + r[i + 1 :] for r in rows]
            continue
        elif kind == "repeat":
            i, j = draw(st.integers(0, width - 1)), draw(st.integers(0, width))
            rows = [r[:j] + [r[i]] + r[j:] for r in rows]
        elif kind == "swap" and width > 1:
            i, j = sorted(draw(st.lists(st.integers(0, width - 1), min_size=2, max_size=2)))
            order = list(range(width))
            order[i], order[j] = order[j], order[i]
            rows = [[r[k] for k in order] for r in rows]
        elif kind == "shuffle":
            rows = [rows[0], *draw(st.permutations(rows[1:]))]
        else:
            continue
        kinds.append(kind)
    data = join_rows(rows).encode("utf-8")
    last = draw(st.sampled_from(["none", "cut", "encoding"]))
    if last != "none":
        lines = data.decode("utf-8").splitlines(keepends=True)
        k = draw(st.integers(0, len(lines) - 1))
        line = lines[k].rstrip("\n")
        head = "".join(lines[:k]).encode("utf-8")
        if last == "cut" and len(line) > 1:
            # an interrupted download: the file ends inside line k, often inside its last
            # cell, where every field is still there but the value is cut short
            start = line.rfind(",") + 2 if draw(st.booleans()) else 1
            start = min(max(start, 1), len(line) - 1)
            data = head + line[: draw(st.integers(start, len(line) - 1))].encode("utf-8")
            kinds.append("cut")
        elif last == "encoding":
            enc = draw(st.sampled_from(ENCODINGS))
            tail = "".join(lines[k + 1 :]).encode("utf-8")
            data = head + lines[k].encode(enc, errors="xmlcharrefreplace") + tail
            kinds.append(f"encoding {enc} of line {k + 1}")
    return data, kinds


def _check(stores, name: str, data: bytes, kinds: list[str]) -> None:
    sample = samples()[name]
    root, _ = stores
    path = _write(root / "mutated" / name, sample, data)
    try:
        obs = sample.source.load(path, today=pd.Timestamp(TODAY))
    except SourceError as exc:
        event(f"refused: {_labels(kinds)}")
        assert exc.path == path and str(path) in str(exc), kinds
        store = _store(stores, name)
        before = store.path.read_bytes()
        with pytest.raises(SourceError):
            store.ingest(path, name, now=pd.Timestamp(TODAY).to_pydatetime())
        assert store.path.read_bytes() == before, kinds
        return
    event(f"read: {_labels(kinds)}")
    got, clean = figures(obs), _clean(name)
    dropped = [k.removeprefix("drop:") for k in kinds if k.startswith("drop:")]
    for column in dropped:
        if column in DEFAULTS.get(name, {}):
            clean = figures(clean.assign(**{column: DEFAULTS[name][column]}))
    if "cut" in kinds or (dropped and name in REGION_COLUMNS):
        if "cut" in kinds:
            header = data.decode("utf-8", errors="replace").splitlines()[0].split(",")
            assert header[-1] == "note", f"{kinds}: a cut file was accepted"
        both = got.merge(clean, how="left", indicator=True)
        assert (both["_merge"] == "both").all(), f"{kinds}: figures not in the clean file"
        if "cut" not in kinds:  # whole regions gone, none cut short
            kept = clean[clean["region"].isin(set(got["region"]))].reset_index(drop=True)
            pd.testing.assert_frame_equal(got, kept, obj=str(kinds))
    else:
        pd.testing.assert_frame_equal(got, clean, obj=str(kinds))


def _labels(kinds: list[str]) -> str:
    """The kinds of edits, for hypothesis' statistics."""
    return " + ".join(k.split()[0].split(":")[0] for k in kinds) or "nothing"


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param(DEFAULT_PROFILE, id="default"),
        pytest.param("long", marks=pytest.mark.slow, id="long"),
    ],
)
@pytest.mark.parametrize("name", NAMES)
def test_mutated_file_is_refused_or_read_unchanged(stores, name, profile):
    sample = samples()[name]

    @settings(settings.get_profile(profile))
    @given(st.data())
    def run(data):
        mutated, kinds = data.draw(mutations(sample), label="mutation")
        _check(stores, name, mutated, kinds)

    run()
