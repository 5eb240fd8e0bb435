"""Data folders: the bundled real dataset (``data/``) and simulated ones, each with a
``MANIFEST.toml`` naming the source that parses each file."""

from __future__ import annotations

from pathlib import Path

from nowcast.errors import NowcastError
from nowcast.manifest import MANIFEST, file_table, load_manifest
from nowcast.store import IngestResult, Store, is_simulated_file


def bundled_data_dir() -> Path:
    """The repository's ``data/`` folder (real published files only)."""
    here = Path(__file__).resolve().parents[1] / "data"
    return here if here.exists() else Path.cwd() / "data"


def read_manifest(data_dir: Path) -> dict[str, str]:
    """File name -> source name, from ``data_dir/MANIFEST.toml``. Every name must be a plain
    file name in ``data_dir`` (no ``..``, separator or absolute path) that exists there."""
    path = data_dir / MANIFEST
    if not path.exists():
        raise NowcastError(f"{path}: not found; a data folder needs a {MANIFEST} listing its files")
    doc = load_manifest(path)
    if not isinstance(doc.get("files"), dict) or not doc["files"]:
        raise NowcastError(f"{path}: expected a [files] table mapping file name = source name")
    files = file_table(path, doc, "files")
    odd = [name for name, source in files.items() if not isinstance(source, str)]
    if odd:
        raise NowcastError(
            f'{path}: entry {odd[0]!r}: expected the source name as text ("name.csv" = "source")'
        )
    missing = [f for f in files if not (data_dir / f).exists()]
    if missing:
        raise NowcastError(f"{path}: lists files that are not in {data_dir}: {missing}")
    return files


def ingest_dir(store: Store, data_dir: Path) -> list[IngestResult]:
    """Ingest every file a data folder's manifest lists; files already stored change nothing."""
    manifest = read_manifest(data_dir)
    return [
        store.ingest(data_dir / name, source, simulated=is_simulated_file(data_dir / name))
        for name, source in manifest.items()
    ]
