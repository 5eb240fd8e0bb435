"""The incoming folder: files dropped there for ``nowcast update`` (run without FILE) to take in.

Layout::

    incoming/                  $NOWCAST_INCOMING, else data/incoming (from the current folder)
        MANIFEST.toml          optional, see below
        btc.csv                pending: taken in name order
        done/btc.csv           taken in; done/btc.csv.why.txt holds the note, when there is one
        refused/x.csv          refused; refused/x.csv.why.txt says why

Pending are the regular files directly in the folder, except hidden dot-files, the manifest,
README files, notes (``*.why.txt``) and files a browser or copy may still be writing
(``*.part``, ``*.crdownload``, ``*.tmp``). Subfolders (``done/``, ``refused/``, any other) are
never looked into.

The optional ``MANIFEST.toml`` has the format of a data folder's: a ``[files]`` table of
``"name.csv" = "source"`` says which source reads a file (without it the file's format is
recognised), and a ``[published]`` table of ``"name.csv" = 2026-06-01`` (or
``"2026-06-01"``) gives a file's publication date. Entries for files not in the folder are
ignored (the manifest outlives the files it lists).

Nothing outside the folder is read or moved: a manifest entry that is not a plain file name
(``../x.csv``, ``/etc/passwd``, ``sub/x.csv``) is a ``NowcastError`` naming the manifest and
the entry, and so is a manifest that is a symbolic link out of the folder. A symbolic link in
the folder is taken only when it resolves to a regular file inside the folder; one to a file
outside it, or to nothing, is never followed: ``pending`` moves the link itself (never its
target) into ``refused/`` with a note and logs a warning, so it is reported once, not at every
update. A link to a folder is a subfolder, not looked into. ``done/`` and ``refused/`` must be
real folders, not links elsewhere: a move into a link is refused.

Moves are ``os.replace`` within the folder (atomic, one filesystem), and never overwrite: a
second ``x.csv`` becomes ``x-2.csv``, then ``x-3.csv``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from nowcast.errors import NowcastError
from nowcast.files import write_text
from nowcast.manifest import MANIFEST, file_table, load_manifest

log = logging.getLogger(__name__)

INCOMING_ENV = "NOWCAST_INCOMING"
DEFAULT_INCOMING = Path("data") / "incoming"
DONE = "done"
REFUSED = "refused"
NOTE_SUFFIX = ".why.txt"
# Names that are the folder's own, or files still being written, never data to take in.
_OWN_NAMES = {MANIFEST.lower(), "readme", "readme.md", "readme.txt"}
_SKIPPED_SUFFIXES = (NOTE_SUFFIX, ".part", ".crdownload", ".tmp")


@dataclass(frozen=True)
class IncomingFile:
    """A file waiting in the incoming folder; ``source`` and ``published`` come from the
    folder's manifest (``None``: recognise the format, take the source's own dates)."""

    path: Path
    source: str | None = None
    published: str | None = None

    @property
    def folder(self) -> Path:
        """The incoming folder the file is in."""
        return self.path.parent


def default_incoming_dir() -> Path:
    """``$NOWCAST_INCOMING`` when set, else ``data/incoming`` in the current folder."""
    text = os.environ.get(INCOMING_ENV, "").strip()
    return Path(text).expanduser() if text else DEFAULT_INCOMING


def _skipped(name: str) -> bool:
    lower = name.lower()
    return name.startswith(".") or lower in _OWN_NAMES or lower.endswith(_SKIPPED_SUFFIXES)


def _outside(path: Path, root: Path) -> str | None:
    """Why the link ``path`` is not followed, or ``None`` when it resolves into ``root``."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling, or a loop of links
        try:
            shown = os.readlink(path)
        except OSError:
            shown = "?"
        return f"a symbolic link to {shown}, which does not exist: not followed"
    if not target.is_relative_to(root):
        return f"a symbolic link to {target}, outside the incoming folder {root}: not followed"
    return None


def _published(manifest: Path, name: str, value: Any) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.strptime(value.strip(), "%Y-%m-%d").date().isoformat()
        except ValueError:
            pass
    raise NowcastError(
        f"{manifest}: [published] entry {name!r}: expected a date as YYYY-MM-DD, got {value!r}"
    )


def read_incoming_manifest(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(file name -> source, file name -> published ``YYYY-MM-DD``) from the incoming folder's
    optional ``MANIFEST.toml``; both empty without one."""
    path = Path(folder) / MANIFEST
    if not path.exists() and not path.is_symlink():
        return {}, {}
    why = _outside(path, Path(folder).resolve()) if path.is_symlink() else None
    if why:
        raise NowcastError(f"{path}: {why}: expected the manifest in the incoming folder itself")
    doc = load_manifest(path)
    unknown = sorted(set(doc) - {"files", "published"})
    if unknown:
        raise NowcastError(f"{path}: unknown table(s) {unknown}: expected [files] and [published]")
    sources = file_table(path, doc, "files")
    odd = [name for name, source in sources.items() if not isinstance(source, str)]
    if odd:
        raise NowcastError(
            f'{path}: [files] entry {odd[0]!r}: expected the source name as text ("x.csv" = "name")'
        )
    published = {
        name: _published(path, name, value)
        for name, value in file_table(path, doc, "published").items()
    }
    return sources, published


def pending(folder: Path) -> list[IncomingFile]:
    """The files waiting in ``folder``, sorted by name, with their manifest's source and
    publication date; a missing folder has none. A symbolic link out of the folder is moved
    to ``refused/`` here (see the module docstring)."""
    folder = Path(folder)
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise NowcastError(f"{folder}: not a folder: expected the incoming folder")
    sources, published = read_incoming_manifest(folder)
    root = folder.resolve()
    try:
        names = sorted(entry.name for entry in os.scandir(folder))
    except OSError as exc:
        raise NowcastError(f"{folder}: cannot list the folder: {exc.strerror or exc}") from None
    files = []
    for name in names:
        path = folder / name
        if _skipped(name) or path.is_dir():  # a link to a folder is a folder: not looked into
            continue
        file = IncomingFile(path, sources.get(name), published.get(name))
        if path.is_symlink():
            why = _outside(path, root)
            if why:
                log.warning("%s: %s; moved to %s/", path, why, REFUSED)
                mark_refused(file, f"{name} is {why}.")
                continue
        if path.is_file():  # follows a link that stays inside the folder
            files.append(file)
    return files


def _claim(folder: Path, name: str) -> Path:
    """A new, empty file in ``folder`` named ``name`` or ``name`` with ``-2``, ``-3``, ...
    before its extension, created exclusively so no earlier file (or a concurrent run's) is
    ever overwritten; its note's name is free too."""
    stem, dot, ext = name.partition(".")
    for n in range(1, 10_000):
        candidate = folder / (name if n == 1 else f"{stem}-{n}{dot}{ext}")
        if (candidate.parent / (candidate.name + NOTE_SUFFIX)).exists():
            continue
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        return candidate
    raise NowcastError(f"{folder}: 10,000 files named like {name}: expected a free name")


def _move(file: IncomingFile, subfolder: str, note: str) -> Path:
    src = file.path
    target = file.folder / subfolder
    # A link here could carry files out of the folder.
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise NowcastError(
            f"{src}: not moved: {target} is not a folder (a link or a file?): expected"
            f" {subfolder}/ to be a folder inside the incoming folder"
        )
    try:
        target.mkdir(exist_ok=True)
        dest = _claim(target, src.name)
    except OSError as exc:
        raise NowcastError(
            f"{src}: not moved: cannot write in {target}: {exc.strerror or exc}"
        ) from None
    try:
        os.replace(src, dest)
    except OSError as exc:
        dest.unlink(missing_ok=True)
        raise NowcastError(f"{src}: cannot move it to {target}: {exc.strerror or exc}") from None
    if note.strip():
        why = dest.with_name(dest.name + NOTE_SUFFIX)
        try:
            write_text(note.rstrip("\n") + "\n", why)
        except OSError as exc:
            raise NowcastError(
                f"{src}: moved to {dest}, but its note {why} could not be written:"
                f" {exc.strerror or exc}"
            ) from None
    return dest


def mark_done(file: IncomingFile, note: str = "") -> Path:
    """Move ``file`` into ``done/`` (never over an earlier file), with ``note`` (how many
    figures were new, say) beside it as ``<name>.why.txt`` when given; the new path."""
    return _move(file, DONE, note)


def mark_refused(file: IncomingFile, reason: str) -> Path:
    """Move ``file`` into ``refused/`` (never over an earlier file), with ``reason`` beside it
    as ``<name>.why.txt``; the new path."""
    return _move(file, REFUSED, reason.strip() or "refused (no reason given)")
