"""Tables a run holds on disk until it needs them again.

After the projections nothing but the report reads the interactions, and it reads only the
rows of the paged cohorts' members (their lockstep raster and heatmap). Holding the whole
table through clustering and scoring cost ≈ 0.4 GB per 10M rows at the run's peak; the run
writes it to an Arrow IPC file in its spill directory instead (LZ4, ≈ 0.1 s per 10M rows, its
ids dictionary-encoded) and reads back the members' rows one record batch at a time (≈ 0.5 s).

The slow pass's projection waits the same way (:class:`Aside`) from its end until the fast
pass has been clustered and scored, and the fast pass's codes while the slow pass is: nothing
reads them in between (at 10M rows 0.64 and 0.24 GB; the run's peak 3.64 → 2.97 GiB).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graphs.interactions import decoded
from pipelines.mapped_columns import (
    dropped_pages,
    held_values,
    in_a_map,
    is_mapped,
    mappable,
    mapped_column,
)

T = TypeVar("T")


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
        _write_ipc(table, path)
    except OSError as exc:  # e.g. a full disk: say where, and how to choose another place
        raise _spill_error("the interactions", path, exc) from exc
    return path


def _spill_error(what: str, path: Path, exc: OSError) -> OSError:
    """The error of a failed write to the spill directory: where, and how to choose another
    place."""
    return OSError(f"cannot set {what} aside in {path.parent} ({exc}); free space there or "
                   "point TMPDIR at a larger disk")


def _write_ipc(table: pa.Table, path: Path) -> None:
    """``table`` as an Arrow IPC file (LZ4). Dictionary-encoded columns whose chunks share
    one dictionary (as ingest returns them) are written as they are: ``write_feather``
    unifies the dictionaries of every record batch first (7.5 s at 10M rows, against
    0.1 s); chunks with dictionaries of their own are unified."""
    def write(unify: bool) -> None:
        options = pa.ipc.IpcWriteOptions(compression="lz4", unify_dictionaries=unify)
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema,
                                                                 options=options) as writer:
            writer.write_table(table)

    try:
        write(unify=False)
    except pa.ArrowInvalid:  # a dictionary replaced between batches: not in an IPC file
        write(unify=True)


def rows_of_accounts(path: Path, accounts: Iterable[str]) -> pa.Table:
    """The rows of the table set aside at ``path`` whose ``account_id`` is in ``accounts``,
    in the table's order, dictionary-encoded columns decoded to their values; one record
    batch is in memory at a time besides the result.

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
        rows = pa.Table.from_batches(batches, schema=reader.schema)
    return decoded(rows)


class Aside(Generic[T]):
    """An object written to ``path`` (pickle protocol 5, its arrays' buffers raw after it) so
    that the caller can drop it, then :meth:`taken_back`: read into fresh memory at the first
    call (the file then removed), the same object at every later call.

    Buffers the object shares (a table's columns that are also arrays of another field) are
    written once and shared again when read, so the object takes no more memory than before;
    that holds for NumPy arrays, not for pandas' Arrow-backed and datetime columns, which
    pickle copies (:func:`frames_aside` finds those shared columns itself). Buffers in maps
    of files (:mod:`pipelines.mapped_columns`) are on disk already: they are not written or
    read, and come back as the same maps (reading them made every page of them resident).
    An OSError names the directory, as :func:`set_aside`'s.

    >>> import tempfile
    >>> codes = np.arange(5)
    >>> aside = Aside({"codes": codes, "view": codes}, Path(tempfile.mkdtemp()) / "o.pickle")
    >>> back = aside.taken_back()
    >>> back["codes"].tolist(), back["view"] is back["codes"] or np.shares_memory(
    ...     back["view"], back["codes"])
    ([0, 1, 2, 3, 4], True)
    """

    def __init__(self, obj: T, path: Path) -> None:
        buffers: list[pickle.PickleBuffer] = []
        head = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
        unique: list[memoryview] = []
        first: dict[tuple[int, int], int] = {}  # (address, bytes) → index in unique
        uses = []
        for raw in (b.raw() for b in buffers):
            key = (np.frombuffer(raw, np.uint8).__array_interface__["data"][0], raw.nbytes)
            if key not in first:
                first[key] = len(unique)
                unique.append(raw)
            uses.append(first[key])
        kept = {i: raw for i, raw in enumerate(unique) if in_a_map(
            np.frombuffer(raw, np.uint8).__array_interface__["data"][0], raw.nbytes)}
        try:
            with open(path, "wb") as fh:
                pickle.dump((head, [-1 if i in kept else raw.nbytes
                                    for i, raw in enumerate(unique)], uses), fh, protocol=5)
                for i, raw in enumerate(unique):
                    if i not in kept:
                        fh.write(raw)
        except OSError as exc:
            raise _spill_error("a table", path, exc) from exc
        self.path = path
        self._kept = kept  # by index in the file's list of buffers
        self._back: list[T] = []

    def taken_back(self) -> T:
        """The object again (its arrays writable, in memory; those that were maps of files
        the same maps)."""
        if self._back:
            return self._back[0]
        with open(self.path, "rb") as fh:
            head, sizes, uses = pickle.load(fh)
            memory: list[np.ndarray | memoryview] = []
            for i, size in enumerate(sizes):
                if size < 0:
                    memory.append(self._kept[i])
                    continue
                buf = np.empty(size, np.uint8)
                if fh.readinto(memoryview(buf)) != size:
                    raise OSError(f"{self.path}: truncated (the run's spill directory changed)")
                memory.append(buf)
        self.path.unlink()
        self._kept = {}
        self._back.append(pickle.loads(head, buffers=[memory[u] for u in uses]))
        return self._back[0]

    def dropped(self) -> None:
        """Forget the object (and remove its file if it was not taken back), so that it is
        freed once its other holders drop it; :meth:`taken_back` must not be called again.

        >>> import tempfile
        >>> aside = Aside([1], Path(tempfile.mkdtemp()) / "o.pickle")
        >>> aside.dropped(); aside.path.exists()
        False
        """
        self._back.clear()
        self._kept = {}
        self.path.unlink(missing_ok=True)


def mapped_aside(frames: list[pd.DataFrame], name: str, directory: Path) -> Callable[[], None]:
    """Take column ``name`` out of each of ``frames`` that has it and write it to
    ``directory`` (a column two frames share once); return the function that puts back,
    once, in each frame's same place, the column read from its file as a memory map
    (:func:`pipelines.mapped_columns.mapped_column`). As :func:`frames_aside`, but for one
    column, and what is put back stays in the file.

    >>> import tempfile
    >>> frame = pd.DataFrame({"a": [1], "t": [2.5], "b": [3]})
    >>> put_back = mapped_aside([frame], "t", Path(tempfile.mkdtemp()))
    >>> list(frame.columns)
    ['a', 'b']
    >>> put_back(); list(frame.columns), is_mapped(frame["t"])
    (['a', 't', 'b'], True)
    """
    written: list[tuple[pd.Series, pd.Series]] = []  # (column taken, its map)
    taken = []
    for frame in {id(f): f for f in frames}.values():
        if name not in frame.columns:
            continue
        place, column = frame.columns.get_loc(name), frame.pop(name)
        same = [m for c, m in written if _same_data(c, column)]
        if not same:  # a column over a file already (mapped_array's) is not written again
            same = [column if is_mapped(column) else mapped_column(column, directory)]
            written.append((column, same[0]))
        taken.append((frame, place, same[0]))
    del written

    def put_back() -> None:
        while taken:
            frame, place, column = taken.pop(0)  # its index: no copy, no alignment
            frame.insert(place, name, column.set_axis(frame.index))

    return put_back


def columns_mapped(frames: list[pd.DataFrame], directory: Path) -> None:
    """Replace every column of ``frames`` that can be mapped (:func:`mappable`: NumPy
    numbers, UTC times, categoricals, Arrow-backed text) by the same column written to
    ``directory`` and read from there as a memory map
    (:func:`pipelines.mapped_columns.mapped_column`), in its place; a column two frames
    share (two Series of one array, as the fused edges of one layer share that layer's) is
    written once, a mapped one not again.

    The run moves the 1 h pass's fused and per-layer edges and evidence this way once they
    are fused: every column but the ids themselves (the categoricals' categories).

    >>> import tempfile
    >>> frame = pd.DataFrame({"c": pd.Categorical(["x"]), "t": ["y"], "o": [None]})
    >>> columns_mapped([frame], Path(tempfile.mkdtemp()))
    >>> list(frame.columns), [is_mapped(frame[c]) for c in frame.columns]
    (['c', 't', 'o'], [True, True, False])
    """
    names = dict.fromkeys(c for frame in frames for c in frame.columns
                          if mappable(frame[c]) and not is_mapped(frame[c]))
    for name in names:  # in the frames where it can be (ids: coded in one, text in another)
        mapped_aside([f for f in frames if name in f.columns and mappable(f[name])], name,
                     directory)()


def frames_aside(frames: list[pd.DataFrame], path: Path, extra: T) -> Callable[[], T]:
    """Take every column out of each of ``frames`` and keep them at ``path`` with ``extra``
    (one :class:`Aside`); return the function that puts each column back in its place and
    returns ``extra``, once. Columns read from files (:mod:`pipelines.mapped_columns`) stay
    where they are: they are on disk already, and the pages read of them are dropped
    (:func:`pipelines.mapped_columns.dropped_pages`: else what the 1 h pass's scoring read
    stays resident through the slow pass's). Columns shared by frames (two Series of one
    array: :class:`Aside` cannot see that, because pandas pickles Arrow-backed and datetime
    columns as copies), and buffers ``extra`` shares with them (codes that are a categorical
    column's own), are written once and shared again.

    The run keeps the 1 h pass's edges and evidence this way, with its codes, while the slow
    pass is clustered and scored (at 30M rows 1.4 GB).

    >>> import tempfile
    >>> frame = pd.DataFrame({"a": [1], "b": [2.0]})
    >>> back = frames_aside([frame], Path(tempfile.mkdtemp()) / "f.pickle", "extra")
    >>> frame.shape
    (1, 0)
    >>> back(), list(frame.columns)
    ('extra', ['a', 'b'])
    """
    frames = list({id(frame): frame for frame in frames}.values())  # each frame once
    taken = [(frame, name, frame.columns.get_loc(name)) for frame in frames
             for name in frame.columns if not is_mapped(frame[name])]  # those: on disk
    distinct: list[pd.Series] = []
    which = []  # each taken column's place in distinct
    for column in (frame.pop(name) for frame, name, _ in taken):
        same = [i for i, seen in enumerate(distinct) if _same_data(seen, column)]
        which.append(same[0] if same else len(distinct))
        if not same:
            distinct.append(column)
    held = {"taken": taken, "back": Aside((distinct, extra), path).taken_back}
    del distinct, extra
    dropped_pages()  # what was read of the columns left in their files

    def put_back() -> T:
        """Once: afterwards nothing here holds the frames or their columns (the run's splice
        moves the fused tables' columns, then the run drops the layers')."""
        back, extra = held.pop("back")()
        for (frame, name, place), index in zip(held.pop("taken"), which, strict=True):
            frame.insert(place, name, back[index])  # each frame's in order: places as taken
        return extra

    return put_back


def _same_data(one: pd.Series, other: pd.Series) -> bool:
    """Whether two columns hold the same data (two frames sharing a column hold different
    Series of one array: pickled apart, they would come back as two copies); the same memory
    and layout, not merely overlapping memory."""
    if one.dtype != other.dtype:
        return False
    held = [held_values(s) for s in (one, other)]  # a categorical's codes: same dtypes
    if all(isinstance(h, np.ndarray) for h in held):
        layouts = [(h.__array_interface__["data"][0], h.shape, h.strides) for h in held]
        return layouts[0] == layouts[1]
    return held[0] is held[1]
