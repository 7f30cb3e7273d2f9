"""Fast embedding backends: the model exported to OpenVINO and statically quantized to int8.

On CPUs with VNNI the int8 model embeds Bengali news about 3x faster than torch fp32, with vectors
within cosine 0.99 of the fp32 ones (benchmarks/embedding.py measures both). The quantized folder
is made once with sentence-transformers' own export helpers, calibrated on texts shipped in this
package (so every machine builds the same model), and kept in the model cache beside the
converted bundled model. `auto` uses it when it can be built and falls back to torch otherwise.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from ..offline import offline_hubs
from .quiet import quiet_output

TORCH = "torch"
OPENVINO_INT8 = "openvino-int8"
BACKENDS = ("auto", TORCH, OPENVINO_INT8)
# Bump when the export or quantization recipe changes: cached folders and fingerprints then change.
RECIPE_VERSION = 1
COSINE_BOUND = 0.99  # a quantized model whose vectors stray further from fp32 is never used
CALIBRATION_FILE = Path(__file__).parent / "data" / "calibration.jsonl"
QUANTIZED_FILE = "openvino/openvino_model_qint8_quantized.xml"
DONE_FILE = "quality.json"  # written last: a folder holding it is complete and passed the check
# Thread settings: measured on 2 cores (benchmarks/embedding.py); latency hint = one stream
# using every core, which is what one batch at a time wants.
OV_CONFIG = {"PERFORMANCE_HINT": "LATENCY"}
_PACKAGES = ("openvino", "nncf", "optimum.intel", "datasets")
_VERSIONED = ("openvino", "nncf", "optimum-intel")


class FastPathUnavailable(RuntimeError):
    """The int8 model cannot be built or loaded here; the message says why."""


def missing_packages() -> list[str]:
    """Packages the OpenVINO path needs that are not installed (checked without importing them)."""
    missing = []
    for name in _PACKAGES:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def calibration_texts(prefix: str) -> list[str]:
    """The fixed calibration set: every shipped article, then runs of three same-language ones.

    The runs are long enough (300+ tokens) to calibrate the activations of full-length inputs.
    """
    rows = [json.loads(line) for line in CALIBRATION_FILE.read_text(encoding="utf-8").splitlines() if line]
    return [prefix + r["text"] for r in rows] + _runs(rows, prefix)


def _runs(rows: list[dict[str, str]], prefix: str) -> list[str]:
    """Consecutive same-language articles joined three at a time: long inputs from short texts."""
    texts = []
    for lang in ("bn", "en"):
        same = [r["text"] for r in rows if r["id"].startswith(lang + "-")]
        texts += [prefix + "\n".join(same[i : i + 3]) for i in range(0, len(same) - 2, 3)]
    return texts


def recipe_tag(prefix: str) -> str:
    """Names everything besides the source weights that shapes the int8 model: feeds the fingerprint."""
    versions = []
    for name in _VERSIONED:
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name}==?")
    h = hashlib.sha256(CALIBRATION_FILE.read_bytes())
    h.update(json.dumps([RECIPE_VERSION, prefix, versions]).encode())
    return h.hexdigest()[:12]


def cache_folder(cache_root: Path, source_tag: str, prefix: str) -> Path:
    """Where the int8 model for these source weights and this recipe lives."""
    return cache_root / f"{source_tag}-ov-int8-{recipe_tag(prefix)}"


def failure_marker(folder: Path) -> Path:
    """A file beside `folder` recording why building it failed, so `auto` does not retry every run."""
    return folder.with_name(folder.name + ".failed")


def log_file(folder: Path) -> Path:
    """Where the third-party output of building `folder` is kept."""
    return folder.with_name(folder.name + ".log")


def ensure_quantized(source: Path, folder: Path, prefix: str) -> Path:
    """Export `source` to OpenVINO int8 in `folder`, once; the folder appears complete or not at all."""
    if (folder / DONE_FILE).exists():
        return folder
    if missing := missing_packages():
        raise FastPathUnavailable(f"missing packages: {', '.join(missing)}")
    print(f"recommender: building the int8 model once, into {folder} (1-2 min)", file=sys.stderr)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    log = log_file(folder)
    try:
        with quiet_output(log):  # the exporters' warnings and progress bars go to the log
            _export(source, work, prefix)
        try:
            os.replace(work, folder)
        except OSError:  # another process finished first; theirs is as good as ours
            if not (folder / DONE_FILE).exists():
                raise
    except FastPathUnavailable:
        raise
    except Exception as exc:  # export and quantization raise many kinds; one message for all
        raise FastPathUnavailable(f"export failed: {type(exc).__name__}: {exc} (details: {log})") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def load(folder: Path) -> Any:
    """The int8 model as a SentenceTransformer on OpenVINO's CPU plugin."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(
        str(folder),
        backend="openvino",
        device="cpu",
        model_kwargs={"file_name": QUANTIZED_FILE, "ov_config": dict(OV_CONFIG)},
    )


def _export(source: Path, work: Path, prefix: str) -> None:
    """Quantize with sentence-transformers' helper on the shipped texts, then check against fp32."""
    offline_hubs()  # the model and its calibration texts are local: never reach for a hub
    import numpy as np
    from optimum.intel import OVQuantizationConfig
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_static_quantized_openvino_model
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    texts = calibration_texts(prefix)
    data = work / "_calibration"
    data.mkdir()
    lines = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    (data / "train.jsonl").write_text(lines, encoding="utf-8")
    for item in source.iterdir():  # tokenizer, pooling, configs: everything but the fp32 weights
        if item.is_file() and item.suffix not in (".safetensors", ".bin"):
            shutil.copy2(item, work / item.name)
        elif item.is_dir() and item.name != "openvino":
            shutil.copytree(item, work / item.name)
    exported = SentenceTransformer(str(source), backend="openvino", device="cpu")
    export_static_quantized_openvino_model(
        exported,
        OVQuantizationConfig(num_samples=len(texts)),
        str(work),
        dataset_name=str(data),
        dataset_config_name="default",
        dataset_split="train",
        column_name="text",
    )
    del exported
    shutil.rmtree(data)

    check = texts[-40::5]  # long runs in both languages: where int8 error accumulates most
    reference = SentenceTransformer(str(source), device="cpu").encode(check, normalize_embeddings=True)
    quantized = load(work).encode(check, normalize_embeddings=True)
    cosines = np.sum(np.asarray(reference) * np.asarray(quantized), axis=1)
    if float(cosines.min()) < COSINE_BOUND:
        raise FastPathUnavailable(f"int8 vectors stray from fp32 (min cosine {cosines.min():.4f})")
    quality = {"min_cosine": float(cosines.min()), "mean_cosine": float(cosines.mean())}
    (work / DONE_FILE).write_text(json.dumps(quality) + "\n", encoding="utf-8")
