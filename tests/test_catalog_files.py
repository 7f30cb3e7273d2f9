"""The build's catalog files (index/snapshot.py), written from snapshot rows given a batch at a time
in any order: the same files as from one table, rows in id order, and the archive's strings never
all in memory at once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from recommender.index import snapshot
from recommender.index.snapshot import CatalogWriter, Strings, find_row, load_numeric, write_columns

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("external_id", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("section", pa.string()),
        ("language", pa.string()),
        ("published", pa.float64()),
        ("image", pa.string()),
        ("authors", pa.list_(pa.string())),
        ("tags", pa.list_(pa.string())),
        ("snippet", pa.string()),
    ]
)


def rows(n: int) -> list[dict]:
    """`n` snapshot rows with ids out of order, nulls, Bengali text and lists of every length."""
    ids = np.random.default_rng(7).permutation(np.arange(1, n + 1) * 3)
    out = []
    for k, i in enumerate(ids.tolist()):
        out.append(
            {
                "id": i,
                "external_id": f"bn-{i}",
                "url": None if k % 4 == 0 else f"https://news.test/{i}",
                "title": f"শিরোনাম {i}",
                "section": (None, "খেলা", "bangladesh", "world")[k % 4],
                "language": (None, "en", "bn")[k % 3],
                "published": None if k % 5 == 0 else 1.7e9 + i,
                "image": None if k % 2 else f"https://cdn.test/{i}.jpg",
                "authors": [f"লেখক {j}" for j in range(k % 3)],
                "tags": None if k % 6 == 0 else [f"tag{i}"],
                "snippet": f"সংক্ষেপ {i} " * (k % 4),
            }
        )
    return out


def test_catalog_from_batches_in_any_order_equals_the_rows_in_id_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 5 given in reverse, the catalog written 4 rows a batch: every column of every row
    reads back as the rows sorted by id say, the codes index the names sorted, the id lookup finds
    every row, the scratch file is gone, and the files equal those written from one table."""
    given = rows(23)
    table = pa.Table.from_pylist(given, schema=SCHEMA)
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    whole.mkdir()
    parts.mkdir()
    one = write_columns(whole, table)
    monkeypatch.setattr(snapshot, "CATALOG_BLOCK", 4)
    writer = CatalogWriter(parts, SCHEMA)
    for batch in reversed(table.to_batches(max_chunksize=5)):
        writer.add(batch)
    written = writer.finish()

    expected = sorted(given, key=lambda row: row["id"])
    assert written.ids.tolist() == one.ids.tolist() == [row["id"] for row in expected]
    assert not (parts / snapshot.UNSORTED_FILE).exists()
    files = pa.ipc.open_file(pa.memory_map(str(parts / snapshot.STRINGS_FILE)))
    assert [files.get_batch(i).num_rows for i in range(files.num_record_batches)] == [4] * 5 + [3]
    strings = Strings(parts)
    for row, want in enumerate(expected):
        for name in ("external_id", "url", "title", "image", "snippet"):
            assert strings.get(name, row) == want[name], (row, name)
        assert strings.names("authors", row) == tuple(want["authors"])
        assert strings.names("tags", row) == tuple(want["tags"] or ())
    for column, names, codes in (
        ("section", written.section_names, load_numeric(parts, "sections.npy")),
        ("language", written.language_names, load_numeric(parts, "languages.npy")),
    ):
        assert names == sorted({row[column] for row in given} - {None})
        assert [names[c] if c >= 0 else None for c in codes] == [row[column] for row in expected]
    assert np.array_equal(written.languages, load_numeric(parts, "languages.npy"))
    published = load_numeric(parts, "published.npy")
    assert [None if np.isnan(p) else p for p in published] == [row["published"] for row in expected]
    hashes, at = load_numeric(parts, "id_hashes.npy"), load_numeric(parts, "id_rows.npy")
    for row, want in enumerate(expected):
        assert find_row(hashes, at, strings, want["external_id"]) == row
    assert find_row(hashes, at, strings, "bn-0") == -1
    for name in ("published.npy", "sections.npy", "languages.npy", "id_hashes.npy", "id_rows.npy"):
        assert np.array_equal(load_numeric(whole, name), load_numeric(parts, name), equal_nan=True), name
    assert (
        pa.ipc.open_file(pa.memory_map(str(whole / snapshot.STRINGS_FILE)))
        .read_all()
        .equals(files.read_all())
    )


def test_an_empty_catalog_is_written_and_read(tmp_path: Path) -> None:
    written = write_columns(tmp_path, SCHEMA.empty_table())
    assert len(written) == 0 and written.section_names == [] and written.language_names == []
    strings = Strings(tmp_path)
    assert strings.column("external_id") == [] and not (tmp_path / snapshot.UNSORTED_FILE).exists()


def test_the_writer_keeps_nothing_of_the_batches_it_was_given(tmp_path: Path) -> None:
    """Batches that come through Arrow's C stream interface, as DuckDB's do, live as one: a view of
    one column kept by the writer kept every column of its batch (at 1M articles, about 1.1 GB of
    leads and strings held through the rest of the snapshot)."""
    base = pa.total_allocated_bytes()
    dated = [{**row, "published": 1.7e9, "snippet": "x" * 5_000} for row in rows(2_000)]  # no nulls:
    table = pa.Table.from_pylist(dated, SCHEMA)  # a column with none is given as a view of the batch
    given = pa.RecordBatchReader.from_stream(  # imported through the C stream interface
        pa.RecordBatchReader.from_batches(SCHEMA, table.to_batches(max_chunksize=500))
    )
    del table
    writer = CatalogWriter(tmp_path, SCHEMA)
    for batch in given:
        writer.add(batch)
    del batch, given
    assert pa.total_allocated_bytes() - base < 1_000_000  # the 10 MB of snippets were all let go
    assert len(writer.finish().ids) == 2_000


MEMORY_PROBE = """
import json, sys
from pathlib import Path

import numpy as np
import pyarrow as pa

from recommender.index import snapshot

snapshot.CATALOG_BLOCK = 500
n, size = 20_000, 3_000
schema = pa.schema([("id", pa.int64()), ("external_id", pa.string()), ("url", pa.string()),
                    ("title", pa.string()), ("section", pa.string()), ("language", pa.string()),
                    ("published", pa.float64()), ("snippet", pa.string())])
writer = snapshot.CatalogWriter(Path(sys.argv[1]), schema)
ids = np.random.default_rng(0).permutation(n)
for start in range(0, n, 500):
    part = ids[start : start + 500].tolist()
    columns = [part, [f"e{i}" for i in part], [None] * len(part), [f"t{i}" for i in part],
               ["s"] * len(part), ["bn"] * len(part), [1.7e9] * len(part),
               [f"{i:08d}" + "x" * (size - 8) for i in part]]
    arrays = [pa.array(c, f.type) for c, f in zip(columns, schema)]
    writer.add(pa.RecordBatch.from_arrays(arrays, schema=schema))
def anon():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
written = writer.finish()
held = anon()
pa.default_memory_pool().release_unused()  # what finish should have given back already
strings = snapshot.Strings(Path(sys.argv[1]))
ok = all(strings.get("snippet", row).startswith(f"{i:08d}") for row, i in enumerate(written.ids.tolist()))
print(json.dumps({"peak": pa.default_memory_pool().max_memory(), "strings": n * size, "ok": ok,
                  "kept_mb": held - anon()}))
"""


def test_the_catalog_strings_are_never_all_in_memory(tmp_path: Path) -> None:
    """60 MB of snippets through the writer in a fresh process: Arrow's memory pool never holds more
    than a few blocks of them (the rows wait in the scratch file and are put in order from its
    mapping, CATALOG_BLOCK at a time) and keeps none of them cached once done (at 1M articles it
    cached about 1 GB), and every snippet reads back at its id's row."""
    probe = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MEMORY_PROBE), str(tmp_path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    seen = json.loads(probe.stdout)
    assert seen["ok"]
    assert seen["peak"] < seen["strings"] / 8, seen
    assert seen["kept_mb"] < 3, seen
