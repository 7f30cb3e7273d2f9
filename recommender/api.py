"""The library's front door: `Recommender(home).related(article_id)` and friends.

Everything the CLI does goes through this class, so a web app or a notebook gets the same
behaviour with one import. Reading a sidebar touches only the live build's files (any number of
processes may do it at once, also on a read-only copy of a home); writing goes through the home's
write lock, one process at a time (see home.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ranking
from .config import Settings, resolve_home
from .embedding import Embedder, cached_fingerprint, make_embedder
from .errors import IndexNotBuilt, InvalidSetting, RecommenderError
from .home import Home, require_store
from .index import VectorIndex, read_meta
from .index.build import BuildReport, Phase, Progress, build
from .index.overlay import Pin
from .ingest import IngestReport, ingest, parse_field_map
from .ranking import Catalog, Query, Related
from .ranking.live import LiveCatalog
from .ranking.sidebar import PRESETS
from .store import Article, SectionInfo

if TYPE_CHECKING:
    from .scale import RayOptions


@dataclass(frozen=True)
class Stats:
    """What `recommender stats` shows."""

    home: Path
    articles: int
    sections: int
    undated: int
    languages: dict[str, int]
    oldest: datetime | None
    newest: datetime | None
    pending: int | None  # articles to embed at the next build; None when the model is unknown
    model: str
    index_model: str | None
    index_count: int | None
    index_built_at: str | None
    near_duplicate_threshold: float | None


@dataclass(frozen=True)
class Block:
    """An editor's block: `article` kept out of `source`'s sidebar (None: out of every sidebar)."""

    article: str
    source: str | None = None


@dataclass(frozen=True)
class Controls:
    """The editors' controls of a store: what `recommender pin/block --list` shows."""

    pins: list[Pin]
    blocks: list[Block]


class Recommender:
    """A store in a home directory: ingest articles, build the index, ask for related articles.

    Constructing one opens nothing. Sidebars are read from the live build's files; every write
    takes the home's write lock for just as long as it writes. `on_wait` is told (one sentence)
    when a write has to wait for another process.
    """

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        embedder: Embedder | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.home = resolve_home(home)
        self._home = Home(self.home, on_wait)
        self._embedder = embedder
        self._live = LiveCatalog(self.home)

    def close(self) -> None:
        self._live.forget()

    def __enter__(self) -> Recommender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ----------------------------------------------------------------------------
    def ingest(
        self,
        paths: Iterable[str | os.PathLike[str]],
        fields: Sequence[str] = (),
        section_from_url: bool = False,
        timezone: str | None = None,
        rejects: str | os.PathLike[str] | None = None,
    ) -> IngestReport:
        """Read article files into the store; see ingest.ingest for what is checked.

        Each file is stored in one transaction: a killed ingest leaves a file all in or all out.
        `rejects`: write every rejected row (and warning) to this CSV file as it happens.
        """
        mapping = parse_field_map(fields)
        where = Path(rejects) if rejects is not None else None
        with self._home.writing("ingest") as store:
            return ingest(store, [Path(p) for p in paths], mapping, section_from_url, timezone, where)

    def put(self, article_id: str, record: dict[str, Any]) -> IngestReport:
        """Store one article given as a record (the fields ingest reads, under their usual names),
        with every check ingest makes; it reaches sidebars with the next build. `article_id` wins
        over any id in the record. The report says whether it was added, updated or rejected."""
        import json
        import tempfile

        with tempfile.TemporaryDirectory(prefix="recommender-put-") as folder:
            source = Path(folder) / "article.jsonl"
            source.write_text(json.dumps({**record, "id": article_id}, ensure_ascii=False) + "\n", "utf-8")
            return self.ingest([source])

    def remove(self, article_ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """Remove articles; they leave every sidebar at once. Returns (removed, unknown)."""
        require_store(self.home)
        with self._home.writing("remove") as store:
            return store.remove(list(article_ids))

    def build(
        self,
        model: str | None = None,
        progress: Progress | None = None,
        full: bool = False,
        *,
        phase: Phase | None = None,
        wait: float | None = 0,
        engine: str = "local",
        ray: RayOptions | None = None,
    ) -> BuildReport:
        """Embed new and changed articles and make an updated build live (optionally with a new model).

        Small changes update the previous index in place of a rebuild; `full` forces a rebuild. A
        model switch re-embeds everything and becomes the store's model only once its build is live.
        Another build running: LockBusy at once, or after `wait` seconds (None: wait for it).
        engine="ray" embeds on Ray first and searches the neighbour lists there (`ray`: where and
        how wide; see recommender.scale), and needs the `ray` extra (MissingExtra otherwise).
        """
        require_store(self.home)
        backfill = searcher = None
        if engine == "ray":
            from .scale import RaySearcher, require_ray
            from .scale import engine as ray_engine

            require_ray()
            backfill, searcher = ray_engine(ray), RaySearcher(ray)
        elif engine != "local":
            raise InvalidSetting(f"engine must be local or ray, got {engine!r}")
        embedder = self._embedder if model is None else None
        report = build(
            self._home, embedder, progress, full=full, model=model, phase=phase, wait=wait,
            backfill=backfill, searcher=searcher,
        )  # fmt: skip
        if model is not None:
            self._embedder = None
        return report

    # --- reading ----------------------------------------------------------------------------
    def related(
        self,
        article_id: str,
        n: int = 5,
        *,
        as_of: datetime | None = None,
        cross_language: bool | None = None,
        max_age_days: float | None = None,
        exclude_sections: Sequence[str] = (),
        section: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        fill: str | None = None,
        preset: str = "default",
    ) -> list[Related]:
        """The sidebar for one article: up to n related articles, best first.

        section: this section only; since/until: published within (undated articles fail them);
        fill: when short, "below_floor", "section" or "none" (default: the setting); preset
        "legacy": the engine as it was before the lexical signal (for comparisons).
        """
        catalog = self.catalog()  # says NoStore when nothing was ever ingested or built here
        source = catalog.article(catalog.row(article_id))
        query = Query(
            n, as_of, cross_language, max_age_days, tuple(exclude_sections), section, since, until, fill
        )
        return ranking.related(catalog, source, query, preset=_preset(preset))

    def related_to_text(
        self,
        title: str,
        body: str,
        n: int = 5,
        *,
        language: str | None = None,
        as_of: datetime | None = None,
        cross_language: bool | None = None,
        max_age_days: float | None = None,
        exclude_sections: Sequence[str] = (),
        section: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        fill: str | None = None,
    ) -> list[Related]:
        """The sidebar of a text not in the store (a draft), ranked as a stored article's would be.

        language: the draft's language (default: the live build's most common one). The model is
        loaded on first use; copies of the draft are found by cosine (it has no stored overlaps).
        """
        from .embedding.base import article_text
        from .ranking.drafts import draft_sidebar

        require_store(self.home)
        catalog = self.catalog()
        text = article_text(title, body, catalog.settings.text_field_list())
        vector = self._text_embedder(catalog).embed([text])[0]
        query = Query(
            n, as_of, cross_language, max_age_days, tuple(exclude_sections), section, since, until, fill
        )
        return draft_sidebar(catalog, query, vector, text, language)

    def relevance(self, text_a: str, text_b: str, same_language: bool = True) -> float:
        """The engine's relevance of text_b beside text_a, 0 (as alike as two random articles) to 1
        (a republished copy): the calibrated cosine fused with the lexical score as sidebars rank,
        dense only when `same_language` is False. Needs a live build (its scales and idf)."""
        from .ranking.drafts import text_relevance

        catalog = self.catalog()
        vectors = self._text_embedder(catalog).embed([text_a, text_b])
        return text_relevance(catalog, catalog.settings, vectors, text_a, text_b, same_language)

    def _text_embedder(self, catalog: Catalog) -> Embedder:
        """The live build's model, loaded once (the embedder given at construction, if any)."""
        if self._embedder is None:
            self._embedder = make_embedder(catalog.settings)
        return self._embedder

    def article(self, article_id: str) -> Article:
        """The article with this id in the live build (title, url, section, ...); raises
        ArticleNotFound when the live build does not hold it."""
        catalog = self.catalog()
        return catalog.article(catalog.row(article_id))

    def catalog(self) -> Catalog:
        """The live build's catalog under its newest overlay, from files only (no database)."""
        try:
            return self._live.get()
        except IndexNotBuilt:
            require_store(self.home)  # nothing here at all (a typo?) is said as such
            raise

    def index(self) -> VectorIndex:
        """The live build's vectors and FAISS index."""
        return self.catalog().index

    def evaluate(
        self, judgments: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], **options: Any
    ) -> dict[str, Any]:
        """Score this store's engine and baselines against judgments (one file, several graded-links
        files merged per pair, or "proxy"); see recommender.evaluation."""
        from .evaluation import Options, evaluate, require_extra
        from .evaluation.systems import SYSTEM_NAMES

        require_extra()

        names = [f.name for f in fields(Options)]
        run = Options(**{"systems": SYSTEM_NAMES, **{k: v for k, v in options.items() if k in names}})
        rest = {k: v for k, v in options.items() if k not in names}
        with self._home.reading() as store:
            files = [judgments] if isinstance(judgments, (str, os.PathLike)) else list(judgments)
            return evaluate(self, store, [os.fspath(f) for f in files], run, **rest)

    def ranking_formula(self, article_id: str | None = None, preset: str = "default") -> str:
        """The ranking formula the engine runs (ranking/scorer.py), with the live values for one
        article's sidebar (default: the first article of the live build)."""
        catalog = self.catalog()
        row = catalog.row(article_id) if article_id is not None else 0
        make = ranking.RankingParams.legacy if _preset(preset) == "legacy" else ranking.RankingParams.build
        return ranking.formula(make(catalog, row, Query()))

    # --- settings ---------------------------------------------------------------------------
    def settings(self) -> Settings:
        with self._home.reading() as store:
            return store.settings()

    def set_setting(self, key: str, value: str | None) -> Settings:
        """Change one setting (validated with every rule in config.SPECS); creates the store if needed."""
        if key == "model":
            raise InvalidSetting("change the model with `recommender build --model NAME`")
        with self._home.writing("settings") as store:
            return store.set_setting(key, value)

    def reset_setting(self, key: str) -> Settings:
        """Put one setting back to its default."""
        with self._home.writing("settings") as store:
            return store.reset_setting(key)

    def sections(self) -> list[SectionInfo]:
        with self._home.reading() as store:
            return store.sections()

    def set_section(
        self,
        name: str,
        boost: float | None = None,
        half_life_days: float | None = None,
        *,
        same_section_only: bool | None = None,
    ) -> None:
        """Set a section's own values; `same_section_only`: its articles' sidebars show only it."""
        with self._home.writing("sections") as store:
            if same_section_only is None or boost is not None or half_life_days is not None:
                store.set_section(name, boost, half_life_days)
            if same_section_only is not None:
                store.set_same_section_only(name, same_section_only)

    # --- editors' controls: stored, and in every serving process's overlay at once -------------
    def pin(self, source: str, article: str, position: int = 1) -> None:
        """Show `article` at `position` (1 = first) in the sidebar of `source` (external ids)."""
        with self._home.writing("pin") as store:
            store.pin(source, article, position)

    def unpin(self, source: str, article: str) -> bool:
        """Take a pin away; False when there was none."""
        with self._home.writing("unpin") as store:
            return store.unpin(source, article)

    def block(self, article: str, source: str | None = None) -> None:
        """Keep `article` out of the sidebar of `source`, or (no source) out of every sidebar."""
        with self._home.writing("block") as store:
            store.block(article, source)

    def unblock(self, article: str, source: str | None = None) -> bool:
        """Take a block away; False when there was none."""
        with self._home.writing("unblock") as store:
            return store.unblock(article, source)

    def controls(self) -> Controls:
        """The editors' pins and blocks as stored."""
        with self._home.reading() as store:
            return Controls(
                [Pin(*p) for p in store.pins()],
                [Block(article, source) for source, article in store.blocks()],
            )

    def stats(self) -> Stats:
        with self._home.reading() as store:
            raw: dict[str, Any] = store.stats()
            settings = store.settings()
        meta = read_meta(self.home)
        try:
            fingerprint = cached_fingerprint(self._embedder or make_embedder(settings))
            pending: int | None = None
            if fingerprint is not None:
                with self._home.reading() as store:
                    pending = store.count_pending(fingerprint, settings.text_field_list())
        except RecommenderError:  # e.g. a model folder that is gone: stats still shows the rest
            pending = None
        return Stats(
            self.home,
            raw["articles"],
            raw["sections"],
            raw["undated"],
            raw["languages"],
            raw["oldest"],
            raw["newest"],
            pending,
            settings.model,
            meta.model if meta else None,
            meta.count if meta else None,
            meta.built_at if meta else None,
            meta.calibration.near_duplicate_threshold if meta else None,
        )


def _preset(name: str) -> str:
    if name not in PRESETS:
        raise InvalidSetting(f"preset must be one of {', '.join(PRESETS)}, got {name!r}")
    return name


def related(
    article_id: str, n: int = 5, home: str | os.PathLike[str] | None = None, **options: Any
) -> list[Related]:
    """One-call convenience: `related("my-article-id")` against $RECOMMENDER_HOME or ./indexes."""
    with Recommender(home) as rec:
        return rec.related(article_id, n, **options)
