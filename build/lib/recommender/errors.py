"""The named errors the library raises; the CLI turns each into one line and a non-zero exit."""


class RecommenderError(Exception):
    """Base class for every error this package raises on purpose."""


class ArticleNotFound(RecommenderError):
    """No article with this id is in the store."""


class IndexNotBuilt(RecommenderError):
    """The store has no usable index yet: run `recommender build`."""


class ModelMismatch(RecommenderError):
    """The index was built with another model than the store is configured for."""


class ModelUnavailable(RecommenderError):
    """The embedding model cannot be loaded or converted."""


class UnreadableInput(RecommenderError):
    """An input file cannot be read at all (missing, wrong format, required column absent)."""


class InvalidSetting(RecommenderError):
    """A setting, field mapping or option has a value the engine cannot use."""


class LockBusy(RecommenderError):
    """Another process holds the home's write or build lock; the message names it."""

    def __init__(self, message: str, holder: object = None) -> None:
        super().__init__(message)
        self.holder = holder


class NoStore(RecommenderError):
    """The home directory holds no store: a typo, or nothing ingested there yet."""


class MissingExtra(RecommenderError):
    """A feature needs an optional part of the package that is not installed; the message names it."""

    def __init__(self, extra: str, what: str) -> None:
        super().__init__(f"{what} needs the '{extra}' extra: pip install 'recommender[{extra}]'")
        self.extra = extra


class BackfillFailed(RecommenderError):
    """Shards of a Ray backfill failed after their retries; the message names them (the rest is stored)."""

    def __init__(self, message: str, shards: list[str]) -> None:
        super().__init__(message)
        self.shards = shards
