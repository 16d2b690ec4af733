"""Are two run directories the same? Tables compared by content, other files by bytes.

Usage: python benchmarks/compare_outputs.py RUN_A RUN_B

Used to check that a performance change leaves the outputs identical: every ``.parquet``
is compared as a table (values, exactly, and dtypes: :func:`pandas.testing.assert_frame_equal`
with ``check_exact``; before 2026-12-06 floats were compared within its default tolerance),
every ``.csv``, ``.gexf`` and ``.graphml`` byte for byte; ``manifest.json`` without its
timings, dates, input paths, versions and output directory.
Files present in only one directory are listed. Exit 1 when anything differs. Not a test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

VOLATILE = ("timings_s", "created_at", "inputs", "versions")
BYTES = (".csv", ".gexf", ".graphml")


def differences(a: Path, b: Path) -> list[str]:
    """One line per difference between run directories ``a`` and ``b`` (empty: same)."""
    names_a = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    names_b = {p.relative_to(b) for p in b.rglob("*") if p.is_file()}
    out = [f"only in {a if n in names_a else b}: {n}" for n in sorted(names_a ^ names_b)]
    for name in sorted(names_a & names_b):
        fa, fb = a / name, b / name
        if name.suffix == ".parquet":
            try:
                pd.testing.assert_frame_equal(pd.read_parquet(fa), pd.read_parquet(fb),
                                              check_exact=True)
            except AssertionError as exc:
                out.append(f"{name}: {str(exc).splitlines()[0]}")
        elif name.name == "manifest.json":
            ma, mb = (json.loads(f.read_text()) for f in (fa, fb))
            for m in (ma, mb):
                for key in VOLATILE:
                    m.pop(key, None)
                m.get("parameters", {}).pop("out", None)
            if ma != mb:
                keys = sorted(k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k))
                out.append(f"{name}: differs in {', '.join(keys)}")
        elif name.suffix in BYTES and fa.read_bytes() != fb.read_bytes():
            out.append(f"{name}: bytes differ")
    return out


def main() -> None:
    found = differences(Path(sys.argv[1]), Path(sys.argv[2]))
    print("\n".join(found) or "identical (tables, CSVs, manifest without timings)")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
