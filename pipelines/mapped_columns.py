"""Columns a run keeps in files and reads as memory maps, their pages dropped after each slice.

Every column of the edges and the evidence but the ids themselves: numbers, UTC times, a
categorical's codes (its categories stay in memory, in the dtype) and Arrow-backed text (the
edges' ``targets``). The projections write every edge and evidence column into files in the
run's spill directory as they make them, a chunk of the kernel's rows at a time
(:class:`FileColumns`); the run moves the fused edges' new columns there once the pass is
fused (:func:`pipelines.set_aside.columns_mapped`), and the splice each column it places.
The columns are memory maps of those files (same dtype and values, no copy): their pages
are the system's page cache, not the process's heap. A page
that a reader touches counts in the process's resident set until :func:`dropped_pages`
unmaps it again (``madvise(MADV_DONTNEED)``; the data stays in the file and the page
cache), which the readers call after each slice or step; without memory to spare, the
system reads the pages back from disk. A file's name is removed as soon as it is mapped: its
disk space goes with its last map. At 100M rows the parent held ≈ 8.7 GiB from the
clustering to the end with the edges and the evidence's codes in memory, ≈ 2.2 since.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import mmap
import threading
import weakref
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa

from graphs.utc_times import utc_times

_MAPS: weakref.WeakKeyDictionary[mmap.mmap, tuple[int, int]] = weakref.WeakKeyDictionary()
"""Every live map made here, with the addresses of its values (first, past the last): a map
is closed when the last array over it is freed, and leaves this then."""
_MAPS_LOCK = threading.Lock()
"""Held to add a map to :data:`_MAPS` and to list them (:class:`PagesTrimmed`'s thread lists
them while the run makes new ones; a dict changed while listed raises)."""
ROWS_PER_READ = 1 << 22
"""Rows of a frame whose mapped pages :func:`taken_rows` reads before dropping them (at 8
bytes per value, 32 MiB per column)."""
_SERIAL = itertools.count()
"""Numbers the files: a file is never written over (a map of a file cut short faults)."""


def mapped_column(column: pd.Series, directory: Path) -> pd.Series:
    """``column`` (a NumPy number dtype, UTC times, a categorical's codes, or Arrow-backed
    text) written to a new ``.npy`` file in ``directory`` (text: two, :func:`_mapped_text`)
    and read back as a read-only memory map: the same values and dtype, its index a range.

    >>> import tempfile
    >>> times = pd.Series(pd.to_datetime([0, 5], unit="s", utc=True))
    >>> back = mapped_column(times, Path(tempfile.mkdtemp()))
    >>> back.equals(times), is_mapped(back)
    (True, True)
    """
    dtype = column.dtype
    if not mappable(column):
        raise TypeError(f"mapped_column: column {column.name!r} is {dtype}, not a NumPy "
                        "number, UTC times, a categorical or Arrow-backed text")
    if isinstance(column.array, pd.arrays.ArrowStringArray):
        return _mapped_text(column, directory)
    values = held_values(column)  # a categorical's codes: its categories stay in the dtype
    try:
        path = _new_file(directory)
        with open(path, "wb") as fh:
            np.save(fh, values, allow_pickle=False)
    except OSError as exc:
        raise OSError(f"cannot write column {column.name!r} to {directory} ({exc}); free "
                      "space there or point TMPDIR at a larger disk") from exc
    mapped = np.load(path, mmap_mode="r")
    _registered(mapped, path)
    values = mapped.view(np.ndarray)  # a plain array over the map, as the column held
    if isinstance(dtype, pd.DatetimeTZDtype):
        return utc_times(values, dtype.unit).rename(column.name)
    if isinstance(dtype, pd.CategoricalDtype):  # codes of pandas' dtype for them: no copy
        return pd.Series(pd.Categorical.from_codes(values, dtype=dtype, validate=False),
                         name=column.name, copy=False)
    return pd.Series(values, name=column.name, copy=False)


def mappable(column: pd.Series) -> bool:
    """Whether :func:`mapped_column` can write ``column`` to a file: a NumPy number dtype,
    UTC times, a categorical (its codes), or Arrow-backed text.

    >>> mappable(pd.Series([1.5])), mappable(pd.Series(["x"])), mappable(pd.Series([None]))
    (True, True, False)
    """
    dtype = column.dtype
    return ((isinstance(dtype, np.dtype) and dtype.kind in "biuf")
            or (isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC")
            or isinstance(dtype, pd.CategoricalDtype)
            or isinstance(column.array, pd.arrays.ArrowStringArray))


def mapped_array(directory: Path, n: int, dtype: np.dtype | type = np.int64) -> np.ndarray:
    """A new writable array of ``n`` values of ``dtype`` over a new ``.npy`` file in
    ``directory`` (its values unset), for a column to be written into and then read from
    the file; what a reader or writer of it touches stays resident until
    :func:`dropped_pages` (its written values stay in the file).

    >>> import tempfile
    >>> values = mapped_array(Path(tempfile.mkdtemp()), 3)
    >>> values[:] = [4, 5, 6]; dropped_pages(); values.tolist()
    [4, 5, 6]
    """
    try:
        path = _new_file(directory)
        mapped = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n,))
    except OSError as exc:
        raise OSError(f"cannot write a column of {n} values to {directory} ({exc}); free "
                      "space there or point TMPDIR at a larger disk") from exc
    _registered(mapped, path)
    return mapped.view(np.ndarray)


class FileColumns:
    """A :class:`graphs.held_columns.ColumnStore` over files of ``directory``: each column's
    chunks are written at the end of a file of its own as they come (through the page
    cache: the process holds none of them), and the column is read back whole as a
    writable memory map (:func:`mapped_array`'s, no ``.npy`` header); its pages stay
    resident only until :func:`dropped_pages` (``release``).

    >>> import tempfile
    >>> store = FileColumns(Path(tempfile.mkdtemp()))
    >>> store.append("x", np.array([1, 2])); store.append("x", np.array([3]))
    >>> x = store.column("x", np.dtype(np.int64)); store.release()
    >>> x.tolist(), is_mapped(pd.Series(x, copy=False))
    ([1, 2, 3], True)
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._open: dict[str, tuple[BinaryIO, Path, np.dtype]] = {}

    def append(self, name: str, values: np.ndarray) -> None:
        if name not in self._open:
            path = _new_file(self.directory)
            self._open[name] = (open(path, "wb"), path, values.dtype)  # noqa: SIM115
        fh, _, dtype = self._open[name]
        if values.dtype != dtype:
            raise TypeError(f"FileColumns: column {name!r} is {dtype}, got {values.dtype}")
        try:
            np.ascontiguousarray(values).tofile(fh)
        except OSError as exc:
            raise OSError(f"cannot write column {name!r} to {self.directory} ({exc}); free "
                          "space there or point TMPDIR at a larger disk") from exc

    def column(self, name: str, dtype: np.dtype) -> np.ndarray:
        if name not in self._open:
            return np.empty(0, dtype)
        fh, path, written = self._open.pop(name)
        n = fh.tell() // written.itemsize
        fh.close()
        if written != dtype:
            path.unlink()
            raise TypeError(f"FileColumns: column {name!r} was written as {written}, "
                            f"asked for as {np.dtype(dtype)}")
        if n == 0:
            path.unlink()
            return np.empty(0, dtype)
        mapped = np.memmap(path, dtype=dtype, mode="r+", shape=(n,))
        _registered(mapped, path)
        return mapped.view(np.ndarray)

    def array(self, name: str, n: int, dtype: np.dtype) -> np.ndarray:
        return mapped_array(self.directory, n, dtype) if n else np.empty(0, dtype)

    def release(self) -> None:
        dropped_pages()


def _mapped_text(column: pd.Series, directory: Path) -> pd.Series:
    """Arrow-backed text as one Arrow array (``large_string``, as pandas holds it) over two
    new files of ``directory``, its offsets and its bytes, written a range of
    :data:`ROWS_PER_READ` rows at a time from ``column``'s chunks (slices of others, or
    maps: their pages are dropped after each range); missing values keep their mask, in
    memory (one bit per row)."""
    chunks = [chunk.cast(pa.large_string()) for chunk in column.array._pa_array.chunks]
    n = len(column)
    sizes = [_text_bounds(chunk) for chunk in chunks]
    total = sum(int(hi - lo) for lo, hi in sizes)
    offsets, data = mapped_array(directory, n + 1, np.int64), mapped_array(
        directory, max(total, 1), np.uint8)
    offsets[0] = row = at = 0
    for chunk in chunks:
        for start in range(0, len(chunk), ROWS_PER_READ):
            piece = chunk.slice(start, ROWS_PER_READ)
            lo, hi = _text_bounds(piece)
            ends = np.frombuffer(piece.buffers()[1], np.int64)[
                piece.offset + 1:piece.offset + len(piece) + 1]
            offsets[row + 1:row + len(piece) + 1] = ends - lo + at
            if hi > lo:
                data[at:at + hi - lo] = np.frombuffer(piece.buffers()[2], np.uint8)[lo:hi]
            row, at = row + len(piece), at + int(hi - lo)
            dropped_pages()
    nulls = column.array._pa_array.null_count
    valid = None
    if nulls:
        mask = np.concatenate([c.is_valid().to_numpy(zero_copy_only=False) for c in chunks])
        valid = pa.py_buffer(np.packbits(mask, bitorder="little"))
    text = pa.Array.from_buffers(pa.large_string(), n, [valid, pa.py_buffer(offsets),
                                                         pa.py_buffer(data)], null_count=nulls)
    array = type(column.array)(pa.chunked_array([text]), dtype=column.dtype)
    return pd.Series(array, name=column.name, copy=False)


def _text_bounds(chunk: pa.Array) -> tuple[int, int]:
    """The first and past-the-last byte of a ``large_string`` array's values in its data."""
    if not len(chunk):
        return 0, 0
    offsets = np.frombuffer(chunk.buffers()[1], np.int64)
    return int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])


def _registered(mapped: np.memmap, path: Path) -> None:
    """Note ``mapped``'s map (what every view of it keeps alive, not the memmap itself) and
    where its values are, and remove its file's name: the file lives on, nameless, as long
    as the map (the system reads and writes its pages there), and its disk space is freed
    with the map."""
    first = mapped.__array_interface__["data"][0]
    with _MAPS_LOCK:
        _MAPS[mapped._mmap] = (first, first + mapped.nbytes)
    with contextlib.suppress(OSError):  # where an open file cannot be removed: at the end
        path.unlink()


def held_values(column: pd.Series) -> object:
    """What holds a column's values: a NumPy array (for datetimes their int64 ticks, for a
    categorical its codes), else the Arrow array of an Arrow-backed column.

    >>> held_values(pd.Series(pd.Categorical(["b", "a", "b"]))).tolist()
    [1, 0, 1]
    """
    array = column.array
    if hasattr(array, "asi8"):
        return array.asi8
    if isinstance(column.dtype, pd.CategoricalDtype):
        return array.codes
    if isinstance(column.dtype, np.dtype):
        return column.to_numpy()
    return array.__arrow_array__() if hasattr(array, "__arrow_array__") else array


def is_mapped(column: pd.Series) -> bool:
    """Whether ``column``'s values are those of a map made here (:func:`mapped_column`,
    :func:`mapped_array`); Arrow-backed: whether each chunk's bytes are."""
    values = held_values(column)
    if isinstance(values, np.ndarray):
        return in_a_map(values.__array_interface__["data"][0], values.nbytes)
    if isinstance(values, pa.ChunkedArray):
        return bool(values.num_chunks) and all(_in_a_map(chunk.buffers()[-1])
                                               for chunk in values.chunks)
    return False


def _in_a_map(buffer: pa.Buffer | None) -> bool:
    """Whether ``buffer`` lies in a map made here."""
    return buffer is not None and in_a_map(buffer.address, buffer.size)


def in_a_map(address: int, size: int) -> bool:
    """Whether the ``size`` bytes at ``address`` lie in a map made here.

    >>> import tempfile
    >>> values = mapped_array(Path(tempfile.mkdtemp()), 4)
    >>> address = values.__array_interface__["data"][0]
    >>> in_a_map(address + 8, 16), in_a_map(address, 40), in_a_map(id(values), 1)
    (True, False, False)
    """
    with _MAPS_LOCK:
        spans = list(_MAPS.values())
    return any(lo <= address and address + size <= hi for lo, hi in spans)


def dropped_pages() -> None:
    """Unmap from this process every page of the maps that it has read (they stay in the
    files and, memory permitting, in the page cache): its resident set shrinks by them, and
    the next read maps them again.

    >>> dropped_pages()
    """
    if not hasattr(mmap, "MADV_DONTNEED"):  # not Linux/BSD: the system decides
        return
    with _MAPS_LOCK:
        maps = list(_MAPS)  # a strong reference each: none is unmapped meanwhile
    for raw in maps:
        with contextlib.suppress(ValueError, OSError):  # closed since: nothing to drop
            raw.madvise(mmap.MADV_DONTNEED)


class PagesTrimmed:
    """A context in which a thread calls :func:`dropped_pages` every ``every_s`` seconds, so
    that what the steps read of the maps (their columns read whole, gathered, sorted) stays
    resident a moment, not to the end of the step: at 100M rows the scoring read ≈ 3 GB of
    the 1 h pass's mapped columns and held them to its end. A page dropped while a reader
    still needs it is read again from the page cache (a minor fault): the values never
    change. ``stop()`` ends it early (before the output pool forks its workers).

    >>> with PagesTrimmed(every_s=0.01) as trimmed:
    ...     trimmed.stop()
    """

    def __init__(self, every_s: float = 0.25) -> None:
        self.every_s = every_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._trim, name="cohortscan-pages",
                                        daemon=True)

    def _trim(self) -> None:
        while not self._stopped.wait(self.every_s):
            dropped_pages()

    def __enter__(self) -> PagesTrimmed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _new_file(directory: Path) -> Path:
    """A new empty file ``column-<n>.npy`` in ``directory``, made here: never one that a
    live map reads (writing over it would cut the map's pages short)."""
    while True:
        path = directory / f"column-{next(_SERIAL)}.npy"
        try:
            with open(path, "xb"):
                return path
        except FileExistsError:  # made by another process (a forked one counts alike)
            continue


def taken_rows(frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``frame.take(rows)`` for ascending ``rows``; when ``frame`` has mapped columns, taken
    a range of :data:`ROWS_PER_READ` of its rows at a time, the pages read dropped after each
    (:func:`dropped_pages`): a map's touched pages stay at most a range's, wherever the rows
    are.

    >>> frame = pd.DataFrame({"x": [5, 6, 7]})
    >>> taken_rows(frame, np.array([0, 2]))["x"].tolist()
    [5, 7]
    """
    if not any(is_mapped(frame[c]) for c in frame.columns) or not len(rows):
        return frame.take(rows)
    if np.any(np.diff(rows) < 0):
        raise ValueError("taken_rows: rows must be ascending")
    bounds = np.searchsorted(rows, np.arange(0, len(frame) + ROWS_PER_READ, ROWS_PER_READ))
    parts = []
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        if hi > lo:
            parts.append(frame.take(rows[lo:hi]))
            dropped_pages()
    return pd.concat(parts)


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """``pa.Table.from_pandas(frame, preserve_index=False)``, its mapped UTC time and float
    columns wrapped as they are after a look for missing values (NaT, NaN: pyarrow marks them
    missing) a range of :data:`ROWS_PER_READ` rows at a time, :func:`dropped_pages` after
    each: pyarrow reads such a column whole for them, so every page of the map was resident
    at once (at 100M rows ≈ 0.8 GB per column, by size).

    >>> import tempfile
    >>> frame = pd.DataFrame({"t": pd.to_datetime([0, 9], unit="s", utc=True), "n": [1, 2]})
    >>> frame["t"] = mapped_column(frame["t"], Path(tempfile.mkdtemp()))
    >>> arrow_table(frame).equals(pa.Table.from_pandas(frame, preserve_index=False))
    True
    """
    wrapped = {c: _wrapped(frame[c]) for c in frame.columns if is_mapped(frame[c])}
    wrapped = {c: array for c, array in wrapped.items() if array is not None}
    if not wrapped:
        return pa.Table.from_pandas(frame, preserve_index=False)
    rest = pa.Table.from_pandas(frame.drop(columns=list(wrapped)), preserve_index=False)
    head = pa.Table.from_pandas(frame[list(wrapped)].iloc[:1], preserve_index=False)
    meta = json.loads(rest.schema.metadata[b"pandas"])
    entries = {c["name"]: c for c in meta["columns"]}
    entries.update({c["name"]: c for c in json.loads(head.schema.metadata[b"pandas"])["columns"]})
    meta["columns"] = [entries[c] for c in frame.columns]
    fields = [head.schema.field(c) if c in wrapped else rest.schema.field(c)
              for c in frame.columns]
    schema = pa.schema(fields, metadata={**rest.schema.metadata,
                                         b"pandas": json.dumps(meta).encode()})
    columns = [wrapped[c] if c in wrapped else rest.column(c) for c in frame.columns]
    return pa.Table.from_arrays(columns, schema=schema)


def _wrapped(column: pd.Series) -> pa.Array | None:
    """A mapped UTC time or float column as an Arrow array over the same values, its missing
    ones (NaT, NaN) marked as pyarrow's conversion marks them; ``None`` for other columns
    (pyarrow's conversion does not read them)."""
    dtype = column.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        values, kind = column.array.asi8, pa.timestamp(dtype.unit, tz="UTC")

        def missing(block: np.ndarray) -> np.ndarray:
            return block == np.iinfo(np.int64).min  # NaT
    elif isinstance(dtype, np.dtype) and dtype.kind == "f":
        values, kind, missing = column.to_numpy(), pa.from_numpy_dtype(dtype), np.isnan
    else:
        return None
    masks, n_missing, step = [], 0, max(8, ROWS_PER_READ // 8 * 8)  # whole mask bytes
    for start in range(0, len(values), step):
        found = missing(values[start:start + step])
        dropped_pages()
        masks.append(np.packbits(~found, bitorder="little"))
        n_missing += int(found.sum())
    valid = pa.py_buffer(np.concatenate(masks)) if n_missing else None
    return pa.Array.from_buffers(kind, len(values), [valid, pa.py_buffer(values)],
                                 null_count=n_missing)
