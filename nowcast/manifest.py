"""``MANIFEST.toml``: a folder's table of its own files (a data folder's, the incoming folder's).

An entry names a file *in the manifest's folder*: a plain file name, never a path. A name with
``..``, a path separator, a drive or an absolute path is refused naming the manifest and the
entry, so no manifest makes nowcast read or move a file outside its folder.
"""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from nowcast.errors import NowcastError

MANIFEST = "MANIFEST.toml"
PLAIN_NAME = "a plain file name in the manifest's folder (no '..', no path separator, not absolute)"


def _problem(name: str) -> str | None:
    if not name.strip():
        return "an empty name"
    if "\x00" in name:
        return "a name with a NUL character"
    # Both flavours: a manifest written on Windows reaches a Linux machine and back.
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute():
        return "an absolute path"
    if PureWindowsPath(name).drive:
        return "a path with a drive"
    if "/" in name or "\\" in name:
        return "a path with a separator"
    if name in (".", ".."):
        return "a folder, not a file"
    return None


def check_file_name(manifest: Path, name: str) -> str:
    """``name`` when it is a plain file name in ``manifest``'s folder; otherwise a
    ``NowcastError`` naming the manifest and the entry."""
    problem = _problem(name)
    if problem:
        raise NowcastError(f"{manifest}: entry {name!r} is {problem}: expected {PLAIN_NAME}")
    return name


def load_manifest(manifest: Path) -> dict[str, Any]:
    """The TOML document of ``manifest``; an unreadable or malformed file is a
    ``NowcastError`` naming it."""
    try:
        text = manifest.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NowcastError(f"{manifest}: not UTF-8 text: expected a TOML file") from None
    except OSError as exc:
        raise NowcastError(f"{manifest}: cannot read it: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NowcastError(f"{manifest}: malformed TOML: {exc}") from None


def file_table(manifest: Path, doc: dict[str, Any], table: str) -> dict[str, Any]:
    """The ``[table]`` of file name -> value, every name checked by ``check_file_name``; an
    absent table is empty, anything else than a table an error naming the manifest."""
    entries = doc.get(table, {})
    if not isinstance(entries, dict):
        raise NowcastError(f"{manifest}: {table} is not a table: expected [{table}] name = value")
    return {check_file_name(manifest, str(name)): value for name, value in entries.items()}
