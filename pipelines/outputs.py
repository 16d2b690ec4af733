"""Writing outputs: tables, the manifest, and the whole output directory atomically."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@contextlib.contextmanager
def atomic_directory(out: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``out``; on success it replaces ``out`` in one rename.

    On error the temporary directory is removed and ``out`` is left as it was.
    """
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-{os.getpid()}-", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def remove_stale_partials(out: Path) -> list[Path]:
    """Clean up after runs killed while writing ``out``; return the directories removed.

    ``.<out>.partial-<pid>-*`` (a report being written, never renamed into place) is removed.
    ``.<out>.old-<pid>`` (the previous report, moved aside just before the final rename) is
    put back as ``out`` when the kill came between the two renames, else removed. Directories
    of a process that is still running (a concurrent run) are left alone.
    """
    removed = []
    for path in sorted(out.parent.glob(f".{out.name}.*")):
        kind, _, rest = path.name[len(out.name) + 2:].partition("-")
        pid = rest.split("-")[0]
        if kind not in ("partial", "old") or not pid.isdigit() or _alive(int(pid)):
            continue
        if kind == "old" and not out.exists():
            os.replace(path, out)
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "wb", **open_args: Any) -> Iterator[IO]:
    """Yield an open temporary sibling of ``path``; on success it becomes ``path`` (mode 0644).

    On error the temporary file is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_args) as fh:
            yield fh
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_for_spreadsheets(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with a quote ``'``."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            text = out[col].astype("string")
            risky = text.str.startswith(FORMULA_PREFIXES).fillna(False)
            out[col] = text.mask(risky, "'" + text)
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write a CSV (UTF-8, no index, formula-safe)."""
    safe_for_spreadsheets(frame).to_csv(path, index=False, lineterminator="\n")
    return path


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_parquet(path, index=False)
    return path


def write_json(data: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n",
                    encoding="utf-8")
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
