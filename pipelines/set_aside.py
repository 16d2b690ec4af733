"""The run's interactions on disk between the projection and the report.

After the projections nothing but the report reads the interactions, and it reads only the
rows of the paged cohorts' members (their lockstep raster and heatmap). Holding the whole
table through clustering and scoring cost ≈ 0.4 GB per 10M rows at the run's peak; the run
writes it to an Arrow IPC file in its spill directory instead (LZ4, ≈ 0.4 s per 10M rows)
and reads back the members' rows one record batch at a time (≈ 0.5 s).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather


def set_aside(table: pa.Table, path: Path) -> Path:
    """Write ``table`` to ``path`` (Arrow IPC, LZ4) so that the caller can drop it; an
    OSError names the directory (a run's spill directory is under the system's temporary
    directory, ``TMPDIR``).

    >>> import tempfile
    >>> path = set_aside(pa.table({"account_id": ["a"]}), Path(tempfile.mkdtemp()) / "t.arrow")
    >>> path.name
    't.arrow'
    """
    try:
        feather.write_feather(table, path, compression="lz4")
    except OSError as exc:  # e.g. a full disk: say where, and how to choose another place
        raise OSError(f"cannot set the interactions aside in {path.parent} ({exc}); free "
                      "space there or point TMPDIR at a larger disk") from exc
    return path


def rows_of_accounts(path: Path, accounts: Iterable[str]) -> pa.Table:
    """The rows of the table set aside at ``path`` whose ``account_id`` is in ``accounts``,
    in the table's order; one record batch is in memory at a time besides the result.

    >>> import tempfile
    >>> path = set_aside(pa.table({"account_id": ["a", "b", "a"], "n": [1, 2, 3]}),
    ...                  Path(tempfile.mkdtemp()) / "t.arrow")
    >>> rows_of_accounts(path, ["a"])["n"].to_pylist()
    [1, 3]
    """
    wanted = pa.array(sorted(set(accounts)), pa.string())
    with pa.OSFile(str(path)) as source:
        reader = pa.ipc.open_file(source)
        batches = [batch.filter(pc.is_in(batch["account_id"], wanted))
                   for batch in map(reader.get_batch, range(reader.num_record_batches))]
        return pa.Table.from_batches(batches, schema=reader.schema)
