"""The backend setting: validation, fallback to torch with torch's fingerprint, cached resolution,
and length-sorted batches coming back in order. Fast tests use no model; one test loads the real one."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest

from recommender.config import Settings
from recommender.embedding import SentenceTransformerEmbedder, backends, bundled, make_embedder
from recommender.errors import InvalidSetting, ModelUnavailable

from .conftest import SEEDS


def embedder(cache: Path, backend: str) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(
        bundled.BUNDLED_NAME, prefix="query: ", cache_dir=cache, backend=backend
    )


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The bundled model's conversion replaced by an empty folder: resolution never loads torch."""
    source = tmp_path / "fp32"
    source.mkdir()
    monkeypatch.setattr(bundled, "materialize", lambda cache_dir=None: source)
    monkeypatch.setattr(backends, "missing_packages", lambda: [])
    return tmp_path / "cache"


def test_backend_setting_is_validated() -> None:
    assert Settings().backend == "auto"
    for value in backends.BACKENDS:
        assert Settings().with_value("backend", value).backend == value
    with pytest.raises(InvalidSetting, match="backend must be one of"):
        Settings().with_value("backend", "cuda")
    assert make_embedder(Settings(backend="torch")).backend == "torch"  # type: ignore[attr-defined]


def test_missing_packages_fall_back_to_torch(
    no_model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(backends, "missing_packages", lambda: ["openvino"])
    auto = embedder(no_model, "auto")
    assert auto.fingerprint() == embedder(no_model, "torch").fingerprint()
    assert auto.resolved_backend() == "torch"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing packages: openvino" in err[0] and "using torch" in err[0]
    with pytest.raises(ModelUnavailable, match="openvino-int8 unavailable"):
        embedder(no_model, "openvino-int8").fingerprint()


def test_failed_export_falls_back_once_and_is_remembered(
    no_model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = []

    def failing_export(source: Path, work: Path, prefix: str) -> None:
        calls.append(work)
        raise RuntimeError("quantization exploded")

    monkeypatch.setattr(backends, "_export", failing_export)
    torch_fp = embedder(no_model, "torch").fingerprint()
    assert embedder(no_model, "auto").fingerprint() == torch_fp
    assert "quantization exploded" in capsys.readouterr().err
    assert embedder(no_model, "auto").fingerprint() == torch_fp  # the failure is cached: no retry
    assert len(calls) == 1 and "delete" in capsys.readouterr().err
    assert not [p for p in no_model.iterdir() if p.name.startswith(".")]  # no half-written folder
    with pytest.raises(ModelUnavailable, match="quantization exploded"):  # explicit: retried, raised
        embedder(no_model, "openvino-int8").fingerprint()
    assert len(calls) == 2


def test_fingerprint_follows_the_backend_and_needs_no_model_when_cached(
    no_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_export(source: Path, work: Path, prefix: str) -> None:
        (work / backends.DONE_FILE).write_text(json.dumps({"min_cosine": 0.999}))

    monkeypatch.setattr(backends, "_export", fake_export)
    int8 = embedder(no_model, "auto").fingerprint()
    assert int8 == embedder(no_model, "openvino-int8").fingerprint()
    assert int8 != embedder(no_model, "torch").fingerprint()

    def must_not_run(*args, **kwargs):
        raise AssertionError("a cached resolution must not convert, export or load anything")

    monkeypatch.setattr(backends, "_export", must_not_run)
    monkeypatch.setattr(bundled, "materialize", must_not_run)
    monkeypatch.setattr(backends, "missing_packages", must_not_run)
    assert embedder(no_model, "auto").fingerprint() == int8
    # another calibration set or recipe is another model, hence another fingerprint
    monkeypatch.setattr(backends, "RECIPE_VERSION", backends.RECIPE_VERSION + 1)
    monkeypatch.setattr(backends, "ensure_quantized", lambda source, folder, prefix: folder)
    monkeypatch.setattr(bundled, "materialize", lambda cache_dir=None: no_model)
    monkeypatch.setattr(backends, "missing_packages", lambda: [])
    assert embedder(no_model, "auto").fingerprint() != int8


def test_a_local_folder_stays_on_torch_under_auto(tmp_path: Path) -> None:
    folder = SentenceTransformerEmbedder(str(tmp_path), backend="auto", cache_dir=tmp_path / "cache")
    assert folder.resolved_backend() == "torch"


class FakeModel:
    """Stands in for SentenceTransformer.encode: row i encodes the length of text i."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: list[str], **kwargs) -> np.ndarray:
        self.seen = list(texts)
        return np.array([[len(t), 1.0] for t in texts], np.float32)


def test_texts_are_embedded_longest_first_and_returned_in_order(tmp_path: Path) -> None:
    emb = embedder(tmp_path, "torch")
    fake = FakeModel()
    emb._model = fake
    texts = ["bb", "a", "dddd", "ccc", "bb"]
    vectors = emb.embed(texts)
    assert [len(t) - len("query: ") for t in fake.seen] == [4, 3, 2, 2, 1]
    expected = np.array([[len("query: ") + len(t), 1.0] for t in texts], np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected)


def _refuse(*args, **kwargs):
    raise RuntimeError("network access attempted while building the int8 model")


@pytest.mark.model
def test_int8_vectors_stay_within_cosine_099_of_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("openvino")
    monkeypatch.setattr(socket.socket, "connect", _refuse)
    monkeypatch.setattr(socket, "create_connection", _refuse)
    rows = [json.loads(line) for line in SEEDS.read_text(encoding="utf-8").splitlines()]
    texts = [r["title"] + "\n" + r["body"] for r in rows if r["language"] == "bn"][::8]
    int8 = make_embedder(Settings(backend="openvino-int8"))
    fp32 = make_embedder(Settings(backend="torch"))
    cosines = np.sum(int8.embed(texts) * fp32.embed(texts), axis=1)
    assert cosines.min() >= backends.COSINE_BOUND, cosines
    assert int8.fingerprint() != fp32.fingerprint()
