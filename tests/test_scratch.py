"""A build's large arrays in scratch files (index/scratch.py): mapped, not held in the process's
own memory, unlinked from the start (a killed build leaves nothing), and the same values as the
plain arrays a build without a folder uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recommender.index.scratch import Scratch

from .conftest import rss_mb


def test_scratch_arrays_live_in_unlinked_files_not_in_memory(tmp_path: Path) -> None:
    scratch = Scratch(tmp_path)
    anon, mapped = rss_mb("RssAnon"), rss_mb("RssFile")
    values = scratch.empty(16 * 2**20, np.float32)  # 64 MB, written through
    values[:] = 1.5
    assert rss_mb("RssAnon") - anon < 16, "the array is in the process's own memory"
    assert rss_mb("RssFile") - mapped > 48
    assert list(tmp_path.iterdir()) == []
    assert float(values[::4096].sum()) == 1.5 * 4096
    assert not scratch.zeros((3, 4), np.int32).any() and (scratch.full(5, -1, np.int64) == -1).all()
    assert scratch.empty(0, np.int32).shape == (0,) and scratch.empty((0, 3), np.int32).shape == (0, 3)


def test_an_appender_gives_its_parts_in_order_mapped_read_only(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    parts = [
        rng.integers(0, 2**31, int(size), dtype=np.int64).astype(np.int32) for size in (5, 0, 300, 2**20)
    ]
    got = {}
    for where in (tmp_path, None):
        appender = Scratch(where).appender(np.int32)
        for part in parts:
            appender.add(part)
        assert len(appender) == sum(len(p) for p in parts)
        got[where] = appender.array()
    assert np.array_equal(got[tmp_path], np.concatenate(parts)) and np.array_equal(got[None], got[tmp_path])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises((ValueError, TypeError)):
        got[tmp_path][0] = 1  # read-only: the scratch file is what the build reads
    assert Scratch(tmp_path).appender(np.uint16).array().dtype == np.uint16


def test_without_a_folder_scratch_arrays_are_plain_ones() -> None:
    scratch = Scratch(None)
    values = scratch.zeros(10, np.float32)
    assert type(values) is np.ndarray and values.base is None and not values.any()
