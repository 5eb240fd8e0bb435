"""The incoming folder (``nowcast.incoming``) and manifest safety: which files are pending and in
what order, what the folder's manifest says of them, moves to ``done/`` and ``refused/`` with
their notes, and that neither a manifest nor a link makes nowcast read or move anything outside
its folder (data folders' manifests included)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from nowcast.datasets import read_manifest
from nowcast.errors import NowcastError
from nowcast.incoming import (
    INCOMING_ENV,
    IncomingFile,
    default_incoming_dir,
    mark_done,
    mark_refused,
    pending,
    read_incoming_manifest,
)
from nowcast.sources import recognise_source


def _put(folder: Path, name: str, text: str = "a,b\n1,2\n") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _names(files: list[IncomingFile]) -> list[str]:
    return [f.path.name for f in files]


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    return folder


# --------------------------------------------------------------------------- the folder


def test_default_folder_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(INCOMING_ENV, str(tmp_path / "drop"))
    assert default_incoming_dir() == tmp_path / "drop"
    monkeypatch.setenv(INCOMING_ENV, "  ")
    assert default_incoming_dir() == Path("data/incoming")
    monkeypatch.delenv(INCOMING_ENV)
    monkeypatch.chdir(tmp_path)
    assert default_incoming_dir().resolve() == tmp_path / "data" / "incoming"


def test_missing_folder_has_nothing_pending(tmp_path):
    assert pending(tmp_path / "nowhere") == []


def test_a_file_is_not_a_folder(tmp_path):
    path = _put(tmp_path, "incoming")
    with pytest.raises(NowcastError, match=f"{path}: not a folder"):
        pending(path)


def test_pending_files_in_name_order_without_hidden_files_or_subfolders(inbox):
    for name in ["b.csv", "a.csv", "C.csv", "10.csv", "9.csv"]:
        _put(inbox, name)
    for name in [
        ".hidden.csv",
        ".a.csv.tmp",
        "sub/x.csv",
        "done/y.csv",
        "refused/z.csv",
        "refused/z.csv.why.txt",
        "README.md",
        "a.csv.why.txt",
        "download.csv.part",
        "download.csv.crdownload",
    ]:
        _put(inbox, name)
    (inbox / "MANIFEST.toml").write_text("[files]\n", encoding="utf-8")
    (inbox / "empty-folder").mkdir()
    files = pending(inbox)
    assert _names(files) == ["10.csv", "9.csv", "C.csv", "a.csv", "b.csv"]
    assert all(f.folder == inbox and f.source is None and f.published is None for f in files)


def test_manifest_gives_sources_and_publication_dates(inbox):
    _put(inbox, "a.csv")
    _put(inbox, "b.csv")
    _put(inbox, "c.csv")
    (inbox / "MANIFEST.toml").write_text(
        "[files]\n"
        '"a.csv" = "coinmetrics"\n'
        '"b.csv" = "generic"\n'
        '"gone.csv" = "generic"  # moved on long ago: ignored\n'
        "[published]\n"
        '"b.csv" = 2026-06-01\n'
        '"c.csv" = "2026-05-31"\n',
        encoding="utf-8",
    )
    got = {f.path.name: (f.source, f.published) for f in pending(inbox)}
    assert got == {
        "a.csv": ("coinmetrics", None),
        "b.csv": ("generic", "2026-06-01"),
        "c.csv": (None, "2026-05-31"),
    }


def test_pending_file_without_a_source_is_recognised(inbox):
    """What ``nowcast update`` does with a file the manifest does not name."""
    _put(inbox, "oil.csv", "Date,Price\n2024-01-15,80.1\n2024-02-15,81.0\n")
    (file,) = pending(inbox)
    assert file.source is None and recognise_source(file.path).name == "eia_brent_monthly"


# --------------------------------------------------------------------------- manifest safety

UNSAFE = ["../x.csv", "/etc/passwd", "sub/x.csv", "..", ".", "sub\\x.csv", "C:x.csv", ""]


@pytest.mark.parametrize("entry", UNSAFE)
@pytest.mark.parametrize("table", ["files", "published"])
def test_incoming_manifest_entry_outside_the_folder_is_refused(inbox, entry, table):
    value = '"generic"' if table == "files" else "2026-06-01"
    manifest = inbox / "MANIFEST.toml"
    key = entry.replace("\\", "\\\\")
    manifest.write_text(f'[{table}]\n"{key}" = {value}\n', encoding="utf-8")
    with pytest.raises(NowcastError) as err:
        pending(inbox)
    assert str(manifest) in str(err.value) and repr(entry) in str(err.value)
    assert "expected a plain file name" in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[files]\n"a.csv" = 3\n', "'a.csv': expected the source name as text"),
        ('[published]\n"a.csv" = "June"\n', "'a.csv': expected a date as YYYY-MM-DD, got 'June'"),
        ('[published]\n"a.csv" = 2026-06-01T10:00:00\n', "'a.csv': expected a date"),
        ('[file]\n"a.csv" = "generic"\n', r"unknown table\(s\) \['file'\]"),
        ("files = 3\n", "files is not a table"),
        ("[files\n", "malformed TOML"),
    ],
)
def test_bad_incoming_manifest_names_itself(inbox, text, expected):
    manifest = inbox / "MANIFEST.toml"
    manifest.write_text(text, encoding="utf-8")
    with pytest.raises(NowcastError, match=f"{manifest}: .*{expected}"):
        pending(inbox)


def test_manifest_linked_from_outside_is_not_read(inbox, tmp_path):
    outside = _put(tmp_path, "elsewhere.toml", '[files]\n"a.csv" = "generic"\n')
    (inbox / "MANIFEST.toml").symlink_to(outside)
    with pytest.raises(NowcastError, match="outside the incoming folder"):
        read_incoming_manifest(inbox)


def test_link_out_of_the_folder_is_refused_not_followed(inbox, tmp_path, caplog):
    secret = _put(tmp_path, "secret.csv", "date,key_rate_pct\n2024-01-01,16\n")
    link = inbox / "rates.csv"
    link.symlink_to(secret)
    _put(inbox, "a.csv")
    with caplog.at_level(logging.WARNING, logger="nowcast.incoming"):
        assert _names(pending(inbox)) == ["a.csv"]
    moved = inbox / "refused" / "rates.csv"
    assert moved.is_symlink() and not link.exists() and not link.is_symlink()
    assert secret.read_text(encoding="utf-8") == "date,key_rate_pct\n2024-01-01,16\n"
    note = (inbox / "refused" / "rates.csv.why.txt").read_text(encoding="utf-8")
    assert "outside the incoming folder" in note and "not followed" in note
    assert "rates.csv" in caplog.text
    assert _names(pending(inbox)) == ["a.csv"]  # reported once


def test_dangling_link_is_refused(inbox):
    (inbox / "gone.csv").symlink_to(inbox / "nowhere.csv")
    assert pending(inbox) == []
    assert "does not exist" in (inbox / "refused" / "gone.csv.why.txt").read_text()


def test_link_to_a_folder_is_not_looked_into(inbox, tmp_path):
    _put(tmp_path, "elsewhere/a.csv")
    (inbox / "more").symlink_to(tmp_path / "elsewhere")
    assert pending(inbox) == [] and not (inbox / "refused").exists()


def test_link_within_the_folder_is_taken(inbox):
    _put(inbox, "sub/real.csv")
    (inbox / "linked.csv").symlink_to(Path("sub") / "real.csv")
    assert _names(pending(inbox)) == ["linked.csv"]


# --------------------------------------------------------------------------- moves


def test_done_with_and_without_a_note(inbox):
    a, b = _put(inbox, "a.csv", "first\n"), _put(inbox, "b.csv")
    fa, fb = pending(inbox)
    dest = mark_done(fa, "3 new figures of 120")
    assert dest == inbox / "done" / "a.csv" and not a.exists()
    assert dest.read_text() == "first\n"
    assert (inbox / "done" / "a.csv.why.txt").read_text() == "3 new figures of 120\n"
    assert mark_done(fb) == inbox / "done" / "b.csv" and not b.exists()
    assert not (inbox / "done" / "b.csv.why.txt").exists()
    assert pending(inbox) == []


def test_refused_with_its_reason(inbox):
    _put(inbox, "x.csv")
    (file,) = pending(inbox)
    dest = mark_refused(file, "x.csv: not recognised as any source's format")
    assert dest == inbox / "refused" / "x.csv"
    why = (inbox / "refused" / "x.csv.why.txt").read_text()
    assert why == "x.csv: not recognised as any source's format\n"


@pytest.mark.parametrize("mark", [mark_done, lambda f: mark_refused(f, "bad")])
def test_name_collisions_keep_every_file(inbox, mark):
    dests = []
    for i in range(3):
        _put(inbox, "btc.csv", f"version {i}\n")
        (file,) = pending(inbox)
        dests.append(mark(file))
    assert [d.name for d in dests] == ["btc.csv", "btc-2.csv", "btc-3.csv"]
    assert [d.read_text() for d in dests] == ["version 0\n", "version 1\n", "version 2\n"]


def test_collision_with_a_leftover_note_takes_a_new_name(inbox):
    _put(inbox, "refused/x.csv.why.txt", "an old reason\n")
    _put(inbox, "x")
    _put(inbox, "x.csv")
    files = {f.path.name: f for f in pending(inbox)}
    assert mark_refused(files["x.csv"], "new reason").name == "x-2.csv"
    assert (inbox / "refused" / "x.csv.why.txt").read_text() == "an old reason\n"
    assert mark_refused(files["x"], "no extension").name == "x"


def test_failed_move_names_the_file(inbox):
    path = _put(inbox, "a.csv")
    (file,) = pending(inbox)
    path.unlink()  # taken by another run meanwhile
    with pytest.raises(NowcastError, match=f"{path}: cannot move it to"):
        mark_done(file)
    assert list((inbox / "done").iterdir()) == []  # no placeholder left


def test_done_folder_linked_elsewhere_is_not_used(inbox, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (inbox / "done").symlink_to(elsewhere)
    path = _put(inbox, "a.csv")
    (file,) = pending(inbox)
    with pytest.raises(NowcastError, match=f"{path}: not moved: .*done is not a folder"):
        mark_done(file)
    assert path.exists() and list(elsewhere.iterdir()) == []


# --------------------------------------------------------------------------- data folders


@pytest.mark.parametrize("entry", UNSAFE)
def test_data_manifest_entry_outside_the_folder_is_refused(tmp_path, entry):
    data = tmp_path / "data"
    data.mkdir()
    _put(tmp_path, "x.csv")  # ../x.csv exists: refused for its name, not for being missing
    manifest = data / "MANIFEST.toml"
    key = entry.replace("\\", "\\\\")
    manifest.write_text(f'[files]\n"{key}" = "generic"\n', encoding="utf-8")
    with pytest.raises(NowcastError) as err:
        read_manifest(data)
    assert str(manifest) in str(err.value) and repr(entry) in str(err.value)


def test_data_manifest_source_must_be_text(tmp_path):
    _put(tmp_path, "a.csv")
    (tmp_path / "MANIFEST.toml").write_text('[files]\n"a.csv" = 1\n', encoding="utf-8")
    with pytest.raises(NowcastError, match="'a.csv': expected the source name as text"):
        read_manifest(tmp_path)


def test_bundled_data_manifest_still_reads(data_dir):
    manifest = read_manifest(data_dir)
    assert manifest["brent_monthly_eia.csv"] == "eia_brent_monthly"
    assert all(os.sep not in name for name in manifest)
