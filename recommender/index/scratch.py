"""Where a build keeps its large arrays: in files it maps, so that they need no memory of its own.

    scratch = Scratch(folder)           # the new build's folder (None: plain arrays in memory)
    weights = scratch.empty(n, np.float32)
    counts = scratch.appender(np.int32) # grows a chunk at a time; .array() maps what was written

Arrays of a Scratch with a folder live in unlinked temporary files there (gone when the build ends,
dies or is removed), mapped shared: the pages a build writes or reads are the page cache's, which
the kernel writes out and drops under pressure instead of holding them as the process's anonymous
memory. A build's memory then no longer grows with the archive's lexical entries; the disk does.
"""

from __future__ import annotations

import mmap
import tempfile
from pathlib import Path
from typing import IO

import numpy as np


class Scratch:
    """Large arrays for a build: file-backed in `folder`, or in memory when it is None."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def empty(self, shape: int | tuple[int, ...], dtype: np.typing.DTypeLike) -> np.ndarray:
        """An uninitialised array (zeros when file-backed)."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        dtype = np.dtype(dtype)
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if self.folder is None or size == 0:
            return np.empty(shape, dtype)
        with tempfile.TemporaryFile(prefix="scratch-", dir=self.folder) as file:
            file.truncate(size)
            whole = mmap.mmap(file.fileno(), size)  # the mapping keeps the file alive once closed
        return np.frombuffer(whole, dtype).reshape(shape)

    def zeros(self, shape: int | tuple[int, ...], dtype: np.typing.DTypeLike) -> np.ndarray:
        out = self.empty(shape, dtype)  # a new scratch file reads as zeros
        if self.folder is None:
            out.fill(0)
        return out

    def full(self, shape: int | tuple[int, ...], value: object, dtype: np.typing.DTypeLike) -> np.ndarray:
        out = self.empty(shape, dtype)
        out.fill(value)
        return out

    def appender(self, dtype: np.typing.DTypeLike) -> Appender:
        return Appender(self, np.dtype(dtype))


class Appender:
    """An array written a part at a time (to a scratch file, or kept in a list without a folder);
    `array()` gives all of it, mapped read-only, once the writing is done."""

    def __init__(self, scratch: Scratch, dtype: np.dtype) -> None:
        self.dtype = dtype
        self._parts: list[np.ndarray] = []
        self._file: IO[bytes] | None = None
        if scratch.folder is not None:
            self._file = tempfile.TemporaryFile(prefix="scratch-", dir=scratch.folder)  # noqa: SIM115 (array() closes it)
        self._written = 0

    def __len__(self) -> int:
        return self._written

    def add(self, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, self.dtype)
        if self._file is None:
            self._parts.append(values)
        else:
            self._file.write(values.tobytes())
        self._written += len(values)

    def array(self) -> np.ndarray:
        """What was added, in order (read-only when file-backed); the appender is done."""
        if self._file is None:
            whole = np.concatenate([np.zeros(0, self.dtype), *self._parts])
            self._parts.clear()
            return whole
        file, self._file = self._file, None
        with file:
            file.flush()
            size = self._written * self.dtype.itemsize
            if size == 0:
                return np.zeros(0, self.dtype)
            mapping = mmap.mmap(file.fileno(), size, access=mmap.ACCESS_READ)
        return np.frombuffer(mapping, self.dtype)


IN_MEMORY = Scratch(None)  # the default where no build folder is given: plain arrays
