"""A deterministic synthetic news corpus and embedder, so the engine can be timed at 10k-1M articles.

Articles belong to stories ("topics"): a story has a section, a language, a date and six topic words;
its articles are dated within days of each other and share those words (so the lexical baseline has
something to match) and a marker `T<topic>` that `SyntheticEmbedder` reads. The embedder mimics
multilingual-e5's geometry: every vector sits in a narrow cone around one axis (random pairs ≈ 0.78),
same-section pairs a little closer, same-story pairs ≈ 0.91, a republished copy ≈ 0.98; see WEIGHTS.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

VERSION = 4  # part of the cache folder name: bump when the corpus or the geometry changes (4: build
# format 4 with the lexical index and text overlaps; skips 2 and 3 in case other branches bump too)
DIM = 384
MODEL_NAME = f"synthetic-e5like-{DIM}-v{VERSION}"
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)  # "now" of the corpus: the newest article is just before it
YEARS = 15
RECENT_SHARE = 0.10  # share of stories dated in the last month before ANCHOR
MEAN_STORY_SIZE = 12
SECTIONS = (
    "national", "politics", "international", "economy", "business", "sports", "entertainment",
    "technology", "opinion", "lifestyle", "health", "education", "science", "environment", "crime",
    "city", "culture", "religion", "travel", "jobs",
)  # fmt: skip
# Custom section boosts written into every synthetic store (the rest take the default 0.1).
SECTION_BOOSTS = {"politics": 0.15, "sports": 0.2, "national": 0.05}
EXCLUDED_SECTION = "jobs"  # the section the latency benchmark filters out
# Shares of each vector's squared norm: common axis, section, story, article, exact text.
WEIGHTS = {"common": 0.78, "section": 0.04, "topic": 0.09, "doc": 0.07, "text": 0.02}
_TOPIC = re.compile(r"\bT(\d+)\b")
_DOC = re.compile(r"\bD(\d+)\b")
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


# --- deterministic randomness ---------------------------------------------------------------------
def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 over a uint64 array: a fast counter-based hash (wraps modulo 2**64)."""
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
    return x ^ (x >> np.uint64(31))


def _unit_vectors(kind: int, keys: np.ndarray) -> np.ndarray:
    """One random unit vector per key (float32 rows), the same on every machine."""
    base = _splitmix(keys.astype(np.uint64) ^ np.uint64(kind << 56))
    counters = base[:, None] + np.arange(DIM, dtype=np.uint64)[None, :]
    bits = _splitmix(counters)
    u1 = ((bits >> np.uint64(40)).astype(np.float64) + 0.5) / float(1 << 24)
    u2 = ((bits & np.uint64(0xFFFFFF)).astype(np.float64) + 0.5) / float(1 << 24)
    gauss = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    gauss /= np.linalg.norm(gauss, axis=1, keepdims=True)
    return gauss.astype(np.float32)


def _shared_unit_vectors(kind: int, keys: np.ndarray) -> np.ndarray:
    """_unit_vectors for keys that repeat: each distinct key computed once."""
    unique, inverse = np.unique(keys, return_inverse=True)
    return _unit_vectors(kind, unique)[inverse]


def topic_section(topic: int) -> str:
    return SECTIONS[int(_splitmix(np.array([topic], np.uint64) ^ np.uint64(7))[0] % len(SECTIONS))]


def topic_language(topic: int) -> str:
    return "bn" if int(_splitmix(np.array([topic], np.uint64) ^ np.uint64(11))[0] % 10) < 7 else "en"


# --- the embedder ---------------------------------------------------------------------------------
class SyntheticEmbedder:
    """recommender.embedding.Embedder: text -> 384-d unit vector from the story and article it names."""

    name = MODEL_NAME

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps([MODEL_NAME, WEIGHTS]).encode()).hexdigest()[:16]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        n = len(texts)
        if n == 0:
            return np.zeros((0, DIM), np.float32)
        text_keys = np.array([_text_key(t) for t in texts], np.uint64)
        topics = np.array([_marker(_TOPIC, t) for t in texts], np.int64)
        docs = np.array([_marker(_DOC, t) for t in texts], np.int64)
        # A text without a story marker is its own story; without an article marker, its own article.
        topic_keys = np.where(topics >= 0, topics.astype(np.uint64), text_keys ^ np.uint64(1))
        doc_keys = np.where(docs >= 0, docs.astype(np.uint64), text_keys ^ np.uint64(2))
        section_keys = np.array(
            [SECTIONS.index(topic_section(int(t))) if t >= 0 else 1000 + int(k % 977) for t, k in
             zip(topics, text_keys, strict=True)],
            np.uint64,
        )  # fmt: skip
        out = np.sqrt(WEIGHTS["common"]) * np.repeat(_unit_vectors(1, np.zeros(1, np.uint64)), n, axis=0)
        out += np.sqrt(WEIGHTS["section"]) * _shared_unit_vectors(2, section_keys)
        out += np.sqrt(WEIGHTS["topic"]) * _shared_unit_vectors(3, topic_keys)
        out += np.sqrt(WEIGHTS["doc"]) * _unit_vectors(4, doc_keys)
        out += np.sqrt(WEIGHTS["text"]) * _unit_vectors(5, text_keys)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out.astype(np.float32)


def _text_key(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _marker(pattern: re.Pattern[str], text: str) -> int:
    found = pattern.search(text)
    return int(found.group(1)) if found else -1


# --- the corpus -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Corpus:
    """Column arrays of N synthetic articles (row i is article `syn-i`)."""

    ids: list[str]
    titles: list[str]
    bodies: list[str]
    sections: list[str]
    languages: list[str]
    published: np.ndarray  # datetime64[us], UTC
    topics: np.ndarray  # int64 story of each article

    def __len__(self) -> int:
        return len(self.ids)

    def arrow(self, start: int, stop: int) -> pa.Table:
        """Rows [start, stop) as a table in the store's ingest schema."""
        from recommender.ingest.normalize import content_hash
        from recommender.ingest.rows import ARTICLE_SCHEMA

        ids = self.ids[start:stop]
        titles, bodies = self.titles[start:stop], self.bodies[start:stop]
        sections = self.sections[start:stop]
        columns = {
            "external_id": ids,
            "url": [f"https://bench.example/{s}/{i}" for s, i in zip(sections, ids, strict=True)],
            "title": titles,
            "body": bodies,
            "section": sections,
            "language": self.languages[start:stop],
            "published_at": pa.array(self.published[start:stop], pa.timestamp("us", tz="UTC")),
            "updated_at": pa.array(self.published[start:stop], pa.timestamp("us", tz="UTC")),
            "content_hash": [content_hash(t, b) for t, b in zip(titles, bodies, strict=True)],
        }
        return pa.table(columns, schema=ARTICLE_SCHEMA)


def _syllable_words(count: int, alphabet: Sequence[str], vowels: Sequence[str], seed: int) -> list[str]:
    """`count` distinct pseudo-words of 2-4 syllables."""
    rng = np.random.default_rng(seed)
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < count:
        k = int(rng.integers(2, 5))
        word = "".join(
            alphabet[int(rng.integers(len(alphabet)))] + vowels[int(rng.integers(len(vowels)))]
            for _ in range(k)
        )
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


_BN_CONSONANTS = [chr(c) for c in range(0x0995, 0x09B9) if chr(c) not in "\u09a9\u09b1\u09b3\u09b4\u09b5"]
_BN_VOWELS = ["", "\u09be", "\u09bf", "\u09c0", "\u09c1", "\u09c7", "\u09cb"]
_EN_CONSONANTS = list("bcdfghklmnprstvz")
_EN_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou"]
TOPIC_VOCAB = 40_000  # topic words per language
FILLER_VOCAB = 3_000  # everyday words per language, Zipf-distributed
WORDS_PER_TOPIC = 6


def _vocab(language: str, count: int, seed: int) -> list[str]:
    if language == "bn":
        return _syllable_words(count, _BN_CONSONANTS, _BN_VOWELS, seed)
    return _syllable_words(count, _EN_CONSONANTS, _EN_VOWELS, seed)


def make_corpus(n: int, seed: int = 0) -> Corpus:
    """N articles in about N / 12 stories of uneven size, over 15 years up to ANCHOR."""
    rng = np.random.default_rng([seed, n, VERSION])
    n_topics = max(1, n // MEAN_STORY_SIZE)
    weights = rng.lognormal(0.0, 1.0, n_topics)
    topics = np.sort(rng.choice(n_topics, size=n, p=weights / weights.sum()))
    topics = topics[rng.permutation(n)]  # ids in no particular story order
    # Story dates: RECENT_SHARE in the last 30 days, the rest uniform over YEARS; articles within days.
    span = YEARS * 365.25 * 86400
    recent = rng.random(n_topics) < RECENT_SHARE
    centre = np.where(
        recent, rng.uniform(-30 * 86400, -2 * 86400, n_topics), rng.uniform(-span, -30 * 86400, n_topics)
    )
    offset = rng.exponential(2.5 * 86400, n) - 86400
    seconds = np.minimum(centre[topics] + offset, -60.0)
    anchor_us = np.datetime64(ANCHOR.replace(tzinfo=None), "us")
    published = anchor_us + (seconds * 1e6).astype("timedelta64[us]")

    vocab = {lang: _vocab(lang, TOPIC_VOCAB, 1 + i) for i, lang in enumerate(("bn", "en"))}
    filler = {lang: _vocab(lang, FILLER_VOCAB, 11 + i) for i, lang in enumerate(("bn", "en"))}
    zipf = 1.0 / np.arange(1, FILLER_VOCAB + 1)
    zipf /= zipf.sum()
    topic_words = rng.integers(0, TOPIC_VOCAB, (n_topics, WORDS_PER_TOPIC))
    sections_of = [topic_section(t) for t in range(n_topics)]
    languages_of = [topic_language(t) for t in range(n_topics)]

    sentences = rng.integers(5, 9, n)
    words_per_sentence = 9
    fill_idx = rng.choice(FILLER_VOCAB, size=(n, 8 * words_per_sentence + 2), p=zipf)
    topic_pick = rng.integers(0, WORDS_PER_TOPIC, (n, 8 * 3 + 4))
    ids, titles, bodies, sections, languages = [], [], [], [], []
    for i in range(n):
        t = int(topics[i])
        lang = languages_of[t]
        tw = [vocab[lang][w] for w in topic_words[t]]
        fw = filler[lang]
        picks, fills = topic_pick[i], fill_idx[i]
        title = " ".join([f"T{t}", *(tw[p] for p in picks[:4]), fw[fills[0]], fw[fills[1]]])
        body = []
        for s in range(int(sentences[i])):
            words = [tw[p] for p in picks[4 + 3 * s : 7 + 3 * s]]
            words += [fw[f] for f in fills[2 + words_per_sentence * s : 2 + words_per_sentence * (s + 1) - 3]]
            body.append(f"D{i} " + " ".join(words) + ".")
        ids.append(article_id(i))
        titles.append(title)
        bodies.append(" ".join(body))
        sections.append(sections_of[t])
        languages.append(lang)
    return Corpus(ids, titles, bodies, sections, languages, published, topics.astype(np.int64))


def article_id(row: int) -> str:
    return f"syn-{row:07d}"


def follow_up(corpus: Corpus, row: int, new_row: int, when: datetime) -> dict[str, str]:
    """A new article (JSONL row) on the same story as article `row`, published at `when`."""
    t = int(corpus.topics[row])
    title_words = corpus.titles[row].split()[1:5]
    body = " ".join(f"D{new_row} {' '.join(title_words)} follow-up report number {k}." for k in range(6))
    return {
        "id": article_id(new_row),
        "title": f"T{t} " + " ".join(title_words) + " latest",
        "body": body,
        "section": corpus.sections[row],
        "language": corpus.languages[row],
        "published_at": when.isoformat(),
        "url": f"https://bench.example/{corpus.sections[row]}/{article_id(new_row)}",
    }


# --- cosine statistics ------------------------------------------------------------------------------
def cosine_stats(corpus: Corpus, vectors: np.ndarray, pairs: int = 4000, seed: int = 0) -> dict[str, float]:
    """Mean cosine of random pairs, same-section pairs, same-story pairs and republished copies."""
    from recommender.index.calibration import republished_copy

    rng = np.random.default_rng(seed)
    n = len(corpus)
    a, b = rng.integers(0, n, pairs), rng.integers(0, n, pairs)
    keep = a != b
    random_pair = np.einsum("ij,ij->i", vectors[a[keep]], vectors[b[keep]])
    order = np.argsort(corpus.topics, kind="stable")
    sorted_topics = corpus.topics[order]
    same = np.flatnonzero(sorted_topics[1:] == sorted_topics[:-1])
    same = rng.permutation(same)[:pairs]
    story = np.einsum("ij,ij->i", vectors[order[same]], vectors[order[same + 1]])
    sections = np.array(corpus.sections)
    sec_a = rng.integers(0, n, pairs * 4)
    sec_b = rng.integers(0, n, pairs * 4)
    mask = (sections[sec_a] == sections[sec_b]) & (corpus.topics[sec_a] != corpus.topics[sec_b])
    section = np.einsum("ij,ij->i", vectors[sec_a[mask]], vectors[sec_b[mask]])
    rows = rng.permutation(n)[:64]
    copies = [republished_copy(corpus.titles[r], corpus.bodies[r]) for r in rows]
    copy_vectors = SyntheticEmbedder().embed([f"{t}\n{b}" for t, b in copies])
    copy = np.einsum("ij,ij->i", vectors[rows], copy_vectors)
    return {
        "random pair": float(random_pair.mean()),
        "random pair std": float(random_pair.std()),
        "same section, other story": float(section.mean()) if len(section) else float("nan"),
        "same story": float(story.mean()) if len(story) else float("nan"),
        "republished copy": float(copy.mean()),
    }


# --- stores on disk ---------------------------------------------------------------------------------
def cache_root() -> Path:
    """Where generated stores are kept: $RECOMMENDER_BENCH_CACHE, else <recommender cache>/bench."""
    if os.environ.get("RECOMMENDER_BENCH_CACHE"):
        return Path(os.environ["RECOMMENDER_BENCH_CACHE"])
    base = Path(os.environ.get("RECOMMENDER_CACHE", Path.home() / ".cache" / "recommender"))
    return base / "bench"


@dataclass(frozen=True)
class StoreInfo:
    """A synthetic store on disk and how it was made."""

    home: Path
    size: int
    cached: bool  # True: reused from an earlier run
    generate_seconds: float
    upsert_seconds: float
    build_seconds: float  # the first build: synthetic embedding of every article + index


def populate(home: Path, corpus: Corpus, chunk: int = 50_000) -> float:
    """Write the corpus straight into a store (Store.upsert in chunks); return the seconds taken."""
    from recommender.home import Home

    started = time.perf_counter()
    with Home(home).writing("benchmark: synthetic store") as store:
        store.set_setting("model", MODEL_NAME)
        for name, boost in SECTION_BOOSTS.items():
            store.set_section(name, boost, None)
        for start in range(0, len(corpus), chunk):
            store.upsert(corpus.arrow(start, min(start + chunk, len(corpus))))
    return time.perf_counter() - started


def ensure_store(size: int, root: Path | None = None, log: bool = True, separate: bool = False) -> StoreInfo:
    """The synthetic store of `size` articles, built once and cached under cache_root().

    `separate`: generate it in a child process (`python -m benchmarks.synthetic SIZE ROOT`), so that
    the memory a 1M-article corpus and its first build take is given back when it is done."""
    from recommender import Recommender

    root = root or cache_root()
    home = root / f"{size}-v{VERSION}"
    done = home / "bench-store.json"
    if done.exists():
        info = json.loads(done.read_text())
        return StoreInfo(
            home, size, True, info["generate_seconds"], info["upsert_seconds"], info["build_seconds"]
        )
    if log:
        print(f"[bench] generating the {size:,}-article synthetic store in {home} (cached for reruns)")
    if separate:
        command = [sys.executable, "-m", "benchmarks.synthetic", str(size), str(root)]
        subprocess.run(command, check=True, cwd=Path(__file__).resolve().parent.parent)
        return replace(ensure_store(size, root, log=False), cached=False)
    work = root / f".{size}-v{VERSION}.partial"
    shutil.rmtree(work, ignore_errors=True)
    started = time.perf_counter()
    corpus = make_corpus(size)
    generate_seconds = time.perf_counter() - started
    upsert_seconds = populate(work, corpus)
    del corpus
    started = time.perf_counter()
    with Recommender(work, embedder=SyntheticEmbedder()) as rec:
        rec.build()
    build_seconds = time.perf_counter() - started
    info = {
        "generate_seconds": generate_seconds,
        "upsert_seconds": upsert_seconds,
        "build_seconds": build_seconds,
    }
    (work / "bench-store.json").write_text(json.dumps(info))
    shutil.rmtree(home, ignore_errors=True)
    os.replace(work, home)
    if log:
        print(
            f"[bench] store ready: generated {generate_seconds:.1f} s, upserted {upsert_seconds:.1f} s, "
            f"built {build_seconds:.1f} s"
        )
    return StoreInfo(home, size, False, generate_seconds, upsert_seconds, build_seconds)


def iter_sizes(text: str) -> Iterator[int]:
    """Parse "10000,100k,1M" into sizes."""
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        factor = 1
        if part.endswith("k"):
            factor, part = 1_000, part[:-1]
        elif part.endswith("m"):
            factor, part = 1_000_000, part[:-1]
        yield int(float(part) * factor)


def future(days: float) -> datetime:
    """A moment `days` after ANCHOR (follow-ups are dated after the corpus)."""
    return ANCHOR + timedelta(days=days)


if __name__ == "__main__":
    ensure_store(int(sys.argv[1]), Path(sys.argv[2]))
