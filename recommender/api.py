"""The library's front door: `Recommender(home).related(article_id)` and friends.

Everything the CLI does goes through this class, so a web app or a notebook gets the same
behaviour with one import.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from . import ranking
from .config import Settings, resolve_home
from .embedding import Embedder, cached_fingerprint, make_embedder
from .errors import InvalidSetting, NoStore, RecommenderError
from .index import VectorIndex, current_build, load_index, read_meta
from .index.build import BuildReport, Progress, build
from .ingest import IngestReport, ingest, parse_field_map
from .ranking import Catalog, Query, Related
from .store import DB_FILENAME, Article, SectionInfo, Store, sql


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


class Recommender:
    """A store in a home directory: ingest articles, build the index, ask for related articles."""

    def __init__(self, home: str | os.PathLike[str] | None = None, embedder: Embedder | None = None) -> None:
        self.home = resolve_home(home)
        self._store: Store | None = None  # opened on first use; reads never create a store
        self._embedder = embedder
        self._index: VectorIndex | None = None
        self._catalog: Catalog | None = None
        self._seen: tuple[tuple[int, ...], int] = ((), -1)  # store file signature, data version

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.open(self.home)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

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

        `rejects`: write every rejected row (and warning) to this CSV file as it happens.
        """
        mapping = parse_field_map(fields)
        where = Path(rejects) if rejects is not None else None
        return ingest(self.store, [Path(p) for p in paths], mapping, section_from_url, timezone, where)

    def remove(self, article_ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """Remove articles; they leave sidebars at the next build. Returns (removed, unknown)."""
        require_store(self.home)
        return self.store.remove(list(article_ids))

    def build(
        self, model: str | None = None, progress: Progress | None = None, full: bool = False
    ) -> BuildReport:
        """Embed new and changed articles and swap in an updated index (optionally with a new model).

        Small changes update the previous index in place of a rebuild; `full` forces a rebuild.
        """
        require_store(self.home)
        embedder = self._embedder
        switching = model is not None and model != self.store.settings().model
        if switching:
            embedder = make_embedder(self.store.settings().with_value("model", model))
        report = build(self.store, self.home, embedder, progress, full=full)
        if switching:  # only a model that built successfully becomes the store's model
            self.store.set_setting("model", model)
            self._embedder = None
        self._index = None
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
    ) -> list[Related]:
        """The sidebar for one article: up to n related articles, best first."""
        require_store(self.home)
        catalog = self.catalog()
        source = catalog.article(catalog.row(article_id))
        query = Query(n, as_of, cross_language, max_age_days, tuple(exclude_sections))
        return ranking.related(catalog, source, query)

    def article(self, article_id: str) -> Article:
        """The stored article with this id (title, url, section, ...); raises ArticleNotFound."""
        require_store(self.home)
        return self.store.article(article_id)

    def catalog(self) -> Catalog:
        """What ranking needs, in memory; reloaded only when the store or the index has changed.

        A change is noticed from the database files' size and time (no query); the store's data
        version then tells a real change from DuckDB tidying its files.
        """
        index = self.index()
        signature = self.store.signature()
        fresh = self._catalog is not None and self._catalog.index is index
        if fresh and signature == self._seen[0]:
            return self._catalog  # type: ignore[return-value]
        version = self.store.data_version()
        if not fresh or version != self._seen[1]:
            self._catalog = Catalog.load(self.store, index)
        self._seen = (self.store.signature(), version)
        return self._catalog  # type: ignore[return-value]

    def index(self) -> VectorIndex:
        """The live index, loaded once and checked against the model this store is set up for."""
        require_store(self.home)
        if self._index is not None and current_build(self.home) != self._index.path:
            self._index = None  # another process built a newer index: pick it up
        if self._index is None:
            model = self._embedder.name if self._embedder is not None else self.store.settings().model
            expected = self.store.state("built_fingerprint")
            self._index = load_index(self.home, expect_model=model, expect_fingerprint=expected)
        return self._index

    def evaluate(self, judgments: str | os.PathLike[str], **options: Any) -> dict[str, Any]:
        """Score this store's engine and baselines against judgments; see recommender.evaluation."""
        require_store(self.home)
        from .evaluation import Options, evaluate
        from .evaluation.systems import SYSTEM_NAMES

        names = [f.name for f in fields(Options)]
        run = Options(**{"systems": SYSTEM_NAMES, **{k: v for k, v in options.items() if k in names}})
        rest = {k: v for k, v in options.items() if k not in names}
        return evaluate(self, str(judgments), run, **rest)

    def ranking_sql(self) -> str:
        """The ranking formula as SQL: the reference the in-memory scorer is held to (a test runs both)."""
        return sql.RANKING.strip()

    # --- settings ---------------------------------------------------------------------------
    def settings(self) -> Settings:
        require_store(self.home)
        return self.store.settings()

    def set_setting(self, key: str, value: str | None) -> Settings:
        """Change one setting (validated with every rule in config.SPECS); creates the store if needed."""
        if key == "model":
            raise InvalidSetting("change the model with `recommender build --model NAME`")
        return self.store.set_setting(key, value)

    def reset_setting(self, key: str) -> Settings:
        """Put one setting back to its default."""
        return self.store.reset_setting(key)

    def sections(self) -> list[SectionInfo]:
        require_store(self.home)
        return self.store.sections()

    def set_section(self, name: str, boost: float | None = None, half_life_days: float | None = None) -> None:
        self.store.set_section(name, boost, half_life_days)

    def stats(self) -> Stats:
        require_store(self.home)
        raw: dict[str, Any] = self.store.stats()
        settings = self.store.settings()
        meta = read_meta(self.home)
        try:
            fingerprint = cached_fingerprint(self._embedder or make_embedder(settings))
            pending: int | None = (
                None
                if fingerprint is None
                else self.store.count_pending(fingerprint, settings.text_field_list())
            )
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


def require_store(home: Path) -> None:
    """Reads need a store: a home without one (a typo, say) is named instead of created empty."""
    if not (home / DB_FILENAME).is_file():
        raise NoStore(f"no store at {home} (create one with `recommender ingest`)")


def related(
    article_id: str, n: int = 5, home: str | os.PathLike[str] | None = None, **options: Any
) -> list[Related]:
    """One-call convenience: `related("my-article-id")` against $RECOMMENDER_HOME or ./indexes."""
    with Recommender(home) as rec:
        return rec.related(article_id, n, **options)
