"""The `recommender` command: parses options, calls the library, prints the result.

No SQL and no ranking here: every command is a thin wrapper over `Recommender`, and every named
library error becomes one line on stderr and exit code 1.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand

from .config import HOME_ENV, format_value
from .display import dumps, plain, visible
from .errors import RecommenderError

app = typer.Typer(
    help="Related-story engine for news sites: ingest articles, build the index, get sidebars.",
    no_args_is_help=True,
    add_completion=False,
)
sections_app = typer.Typer(
    help="List sections or set their boost and recency half-life.", no_args_is_help=True
)
app.add_typer(sections_app, name="sections")

# Piped output (make demo, logs) gets room for a sidebar; a terminal keeps its own width.
out = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 150)
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
SHOWN_REJECTS = 10
# Without a terminal (cron, CI, a pipe) progress is a line every this many seconds.
PROGRESS_SECONDS = float(os.environ.get("RECOMMENDER_PROGRESS_SECONDS", "5"))
# The build phases whose work `progress` counts, and how their progress is labelled.
BUILD_COUNTED = {"embed": "embedding", "neighbours": "neighbour lists"}

Home = Annotated[
    Path | None,
    typer.Option("--home", envvar=HOME_ENV, help="Store directory (default: ./indexes).", show_default=False),
]


def _recommender(home: Path | None):
    from .api import Recommender

    return Recommender(
        home, on_wait=lambda message: err.print(Text.assemble(visible(message), " ..."), soft_wrap=True)
    )


def _fit_width() -> None:
    """$COLUMNS as it is when a command runs (the consoles are made once, at import)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        out.width = err.width = int(columns)


def reports_errors(func: F) -> F:
    """Turn the library's named errors into one clear line and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _fit_width()
        try:
            return func(*args, **kwargs)
        except RecommenderError as exc:
            err.print(Text.assemble(("error:", "red"), " ", visible(exc)), soft_wrap=True)
            raise typer.Exit(1) from exc

    return wrapper  # type: ignore[return-value]


@app.command()
@reports_errors
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="JSONL, CSV or Parquet files (optionally .gz).")],
    field: Annotated[
        list[str] | None,
        typer.Option("--field", "-f", help="Map a field: OURS=THEIRS, e.g. title=headline. Repeatable."),
    ] = None,
    section_from_url: Annotated[
        bool, typer.Option(help="Take the section from the url path when a row has none.")
    ] = False,
    timezone: Annotated[
        str | None, typer.Option(help="Time zone for dates written without one (default: setting).")
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(
            help="Write every rejected row and warning (file, location, field, reason) here as CSV."
        ),
    ] = None,
    home: Home = None,
) -> None:
    """Add or update articles from files; bad rows are reported with file and line."""
    with _recommender(home) as rec:
        report = rec.ingest(paths, field or [], section_from_url, timezone, rejects)
    for problem in report.unreadable:
        _line(err, "unreadable:", "red", problem)
    for rejection in report.rejected[:SHOWN_REJECTS]:
        _line(err, "rejected:", "yellow", rejection)
    if report.rejected_count > SHOWN_REJECTS:
        more = report.rejected_count - SHOWN_REJECTS
        hint = f" (all in {rejects})" if rejects else " (--rejects FILE lists all)"
        _line(err, "", "", f"... and {more} more rejected rows{hint}")
        for reason, count in report.rejection_summary().items():
            _line(err, "", "", f"  {count:>6}  {reason}")
    for warning in report.warnings[:SHOWN_REJECTS]:
        _line(err, "warning:", "yellow", warning)
    if report.warning_count > SHOWN_REJECTS:
        _line(err, "", "", f"... and {report.warning_count - SHOWN_REJECTS} more warnings")
    summary = Text.assemble(
        f"{report.files} file(s), {report.rows} row(s): ",
        (f"{report.added} added", "green"),
        f", {report.updated} updated, {report.unchanged} unchanged, {report.removed} removed, ",
        (f"{report.rejected_count} rejected", "yellow"),
        (f", {len(report.unreadable)} unreadable file(s)", "red") if report.unreadable else "",
    )
    out.print(summary, soft_wrap=True)
    if report.nothing_read:
        err.print(Text.assemble(("error:", "red"), " nothing could be read"))
        raise typer.Exit(1)


def _line(console: Console, label: str, style: str, message: object) -> None:
    """One message line: a coloured label, then text from files or the store, shown as text."""
    text = Text.assemble((label, style), " " if label else "", visible(message))
    console.print(text, soft_wrap=True)


class _RayOption(TyperCommand):
    """`--ray` with an optional value: alone (or before another option) it means a local Ray."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        given = [
            "--ray=local" if a == "--ray" and (i + 1 == len(args) or args[i + 1].startswith("-")) else a
            for i, a in enumerate(args)
        ]
        return super().parse_args(ctx, given)


@app.command(cls=_RayOption)
@reports_errors
def build(
    model: Annotated[
        str | None,
        typer.Option(help="Switch to this sentence-transformers model (id or folder); re-embeds all."),
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Rebuild the index instead of updating it.")] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="If another build is running, wait for it instead of exiting.")
    ] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Embed and search the neighbour lists on Ray: alone, a local Ray on this machine; with "
            "ADDRESS (auto, ray://HOST:PORT) an existing cluster. Needs recommender\\[ray].",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Ray workers (default: as many as the CPUs allow).")
    ] = None,
    threads: Annotated[int, typer.Option(help="CPUs (model threads) per Ray worker.")] = 1,
    shards_dir: Annotated[
        Path | None,
        typer.Option(help="Where --ray writes its Parquet shards (on a cluster: a path every node reads)."),
    ] = None,
    home: Home = None,
) -> None:
    """Embed new and changed articles and update (or rebuild) the FAISS index. A build killed part
    way is finished by the next one, from the embeddings, graph and lists it had saved."""
    options = None
    if ray is not None:
        from .scale import RayOptions

        address = None if ray == "local" else ray
        options = RayOptions(address=address, workers=workers, threads=threads, shards_dir=shards_dir)
    with _recommender(home) as rec, _progress("embedding") as bar:
        report = rec.build(
            model=model,
            progress=lambda done, total: bar.update(bar.phase, done, total),
            phase=bar.begin,
            full=full,
            wait=None if wait else 0,
            engine="ray" if options else "local",
            ray=options,
        )
    if report.nothing_to_do:
        out.print(f"nothing to do: the live build ({report.indexed} articles, {report.model}) is up to date")
        return
    if report.model_changed:
        what = (
            f"model changed from {report.previous_model} to {report.model}"
            if report.previous_model != report.model
            else f"{report.model} changed (weights, backend or input length)"
        )
        out.print(f"[yellow]{what}[/yellow]: every article was re-embedded", soft_wrap=True)
    rate = f" ({report.articles_per_second:.1f} articles/s)" if report.embedded else ""
    if report.backfill is not None:
        from .scale import BackfillReport

        done = report.backfill
        assert isinstance(done, BackfillReport)
        rate = (
            f" ({done.embedded} on Ray, {done.workers} worker(s): {done.articles_per_second:.1f} "
            f"articles/s, {done.first_batch_seconds or 0:.0f} s of it starting up)"
        )
    how = f"updated (+{report.added} -{report.removed})" if report.incremental else "built"
    if report.resumed is not None:
        kept, of = report.resumed, report.indexed
        graph = f"its graph of {kept.graph} of {of} articles and " if kept.graph else ""
        out.print(
            f"finished the build a killed one had begun, keeping {graph}{kept.lists} of {of} "
            "neighbour lists it had saved",
            soft_wrap=True,
        )
    out.print(
        f"embedded {report.embedded} article(s){rate}; {report.kind} index of {report.indexed} {how} "
        f"with {report.model} in {report.seconds:.1f}s; near-duplicate threshold "
        f"{report.calibration.near_duplicate_threshold:.3f}",
        soft_wrap=True,
    )
    if report.lists_search is not None:
        _print_lists_search(report.lists_search)


def _print_lists_search(outcome: object) -> None:
    from .scale import ListsOutcome

    assert isinstance(outcome, ListsOutcome)
    out.print(
        f"neighbour lists of {outcome.searched} article(s) searched on Ray in {outcome.blocks} block(s), "
        f"{outcome.workers} worker(s): {outcome.rows_per_second:.0f} articles/s",
        soft_wrap=True,
    )
    if outcome.here:
        sent = f" (the first {outcome.workers} failed, so the rest were not sent)" if outcome.gave_up else ""
        out.print(
            f"[yellow]{outcome.here} of {outcome.blocks} block(s) failed on Ray and were searched "
            f"here{sent}[/yellow]: {escape(outcome.why or '')}",
            soft_wrap=True,
        )


@app.command()
@reports_errors
def related(
    article_id: Annotated[str, typer.Argument(help="The article's own id (as ingested).")],
    n: Annotated[int, typer.Option("--n", "-n", help="How many related articles.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    as_of: Annotated[
        datetime | None, typer.Option(help="Rank as of this time; later articles are left out.")
    ] = None,
    cross_language: Annotated[
        bool | None,
        typer.Option("--cross-language/--same-language", help="Allow other languages (default: setting)."),
    ] = None,
    max_age_days: Annotated[float | None, typer.Option(help="Leave out articles older than this.")] = None,
    exclude_section: Annotated[
        list[str] | None, typer.Option(help="Leave out this section. Repeatable.")
    ] = None,
    section: Annotated[str | None, typer.Option(help="Only articles of this section.")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Only articles published at or after this time.")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="Only articles published at or before this time.")
    ] = None,
    fill: Annotated[
        str | None,
        typer.Option(help="When short: below_floor, section or none (default: the fill setting)."),
    ] = None,
    preset: Annotated[
        str, typer.Option(help="default, or legacy: the ranking as it was before the lexical signal.")
    ] = "default",
    show_sql: Annotated[
        bool, typer.Option("--formula", "--sql", help="Print the ranking formula first.")
    ] = False,
    home: Home = None,
) -> None:
    """Show the related-news sidebar for one article."""
    from .ranking import score_parts

    with _recommender(home) as rec:
        if show_sql:
            out.print(rec.ranking_formula(article_id), highlight=False, markup=False)
        source = rec.article(article_id)
        s = rec.catalog().settings
        items = rec.related(
            article_id,
            n,
            as_of=as_of,
            cross_language=cross_language,
            max_age_days=max_age_days,
            exclude_sections=exclude_section or [],
            section=section,
            since=since,
            until=until,
            fill=fill,
            preset=preset,
        )
        articles = len(rec.catalog()) if not items else 0
    if as_json:
        rows = [{**item.to_dict(), "score_parts": score_parts(item, s)} for item in items]
        typer.echo(dumps(rows))
        return
    if not items:
        filters = _filters(max_age_days, exclude_section or [], section, since, until)
        why = _why_empty(source, s, articles, cross_language, filters, fill or s.fill)
        out.print(Text.assemble("No related articles for ", plain(source.title), ": ", why), soft_wrap=True)
        return
    table = Table(title=Text.assemble("Related to: ", plain(source.title)), title_justify="left")
    table.add_column("#", no_wrap=True)
    table.add_column("title", overflow="fold", min_width=30)
    table.add_column("section", no_wrap=True)
    table.add_column("published", no_wrap=True)
    table.add_column("score", no_wrap=True, justify="right")
    table.add_column("= relevance + recency + section (weighted)", no_wrap=True)
    for rank, item in enumerate(items, 1):
        part = score_parts(item, s)
        parts = (
            f"{part['relevance']:.2f} + {part['recency']:.2f} + {part['section']:.2f}"
            + (f" - {item.language_penalty:.2f}" if item.language_penalty else "")
            + f"  (cos {item.similarity:.3f})"
        )
        table.add_row(
            str(rank) + ("*" if item.fallback else ""),
            plain(item.title),
            plain(item.section or ""),
            item.published_at.strftime("%Y-%m-%d") if item.published_at else "",
            f"{item.score:.3f}",
            parts,
        )
    out.print(table)
    if any(item.fallback for item in items):
        out.print("* filled in: below the relevance floor, or the newest of the section or language")


def _filters(
    max_age_days: float | None,
    excluded: list[str],
    section: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[str]:
    """The asked-for filters, in words."""
    said = [f"only the last {max_age_days:g} days"] if max_age_days is not None else []
    said += ["sections " + ", ".join(excluded) + " left out"] if excluded else []
    said += [f"only section {section!r}"] if section else []
    said += [f"only published since {since.isoformat()}"] if since else []
    said += [f"only published until {until.isoformat()}"] if until else []
    return said


def _why_empty(
    source: Any,
    settings: Any,
    articles: int,
    cross_language: bool | None,
    asked: list[str],
    fill: str = "section",
) -> str:
    """Why a sidebar came back empty, from what is known without ranking again."""
    if articles <= 1:
        return "the store holds no other article."
    filters = []
    if not (settings.cross_language if cross_language is None else cross_language):
        filters.append(
            f"only {source.language or 'unknown-language'} articles (--cross-language allows others)"
        )
    filters += asked
    shown = "; ".join(filters) + "; " if filters else ""
    if fill == "none":
        fill = "and filling is off (fill none)."
    elif source.section:
        fill = f"and no other article of its section {source.section!r} is dated and visible to fill in."
    else:
        fill = "and it has no section whose newest articles could fill in."
    return (
        f"no candidate reached min_relevance {settings.min_relevance:g} ({shown}nothing published "
        f"after the as-of time), {fill}"
    )


@app.command()
@reports_errors
def remove(
    article_ids: Annotated[list[str], typer.Argument(help="Ids of the articles to remove.")],
    home: Home = None,
) -> None:
    """Remove articles; they leave every sidebar at once."""
    with _recommender(home) as rec:
        removed, unknown = rec.remove(article_ids)
    out.print(f"removed {len(removed)} article(s)")
    if unknown:
        _line(err, "not found:", "yellow", ", ".join(unknown))
        if not removed:
            raise typer.Exit(1)


@sections_app.command("list")
@reports_errors
def sections_list(home: Home = None) -> None:
    """List sections with article counts, boosts and half-lives."""
    with _recommender(home) as rec:
        rows = rec.sections()
    table = Table("section", "articles", "boost", "half-life (days)")
    for s in rows:
        mark = lambda custom: "" if custom else " (default)"  # noqa: E731
        table.add_row(
            plain(s.name),
            str(s.articles),
            f"{s.boost:g}{mark(s.custom_boost)}",
            f"{s.half_life_days:g}{mark(s.custom_half_life)}",
        )
    out.print(table)


@sections_app.command("set")
@reports_errors
def sections_set(
    name: Annotated[str, typer.Argument(help="Section name, e.g. sports.")],
    boost: Annotated[
        float | None, typer.Option(help="Score added when source and candidate share it.")
    ] = None,
    half_life: Annotated[float | None, typer.Option(help="Days after which recency halves.")] = None,
    same_section_only: Annotated[
        bool | None,
        typer.Option(
            "--same-section-only/--any-section",
            help="Sidebars of this section's articles show only this section (or, again, any).",
            show_default=False,
        ),
    ] = None,
    home: Home = None,
) -> None:
    """Set a section's boost, recency half-life and/or whether its sidebars stay in it."""
    if boost is None and half_life is None and same_section_only is None:
        err.print("[red]error:[/red] give --boost, --half-life and/or --same-section-only/--any-section")
        raise typer.Exit(2)
    with _recommender(home) as rec:
        rec.set_section(name, boost, half_life, same_section_only=same_section_only)
    out.print(Text.assemble("section ", plain(name.strip().lower()), ": updated"))


@app.command()
@reports_errors
def pin(
    source: Annotated[str, typer.Argument(help="Id of the article whose sidebar gets the pin.")],
    article: Annotated[str, typer.Argument(help="Id of the article to show in it.")],
    position: Annotated[int, typer.Option(help="Place in the sidebar, 1 = first.")] = 1,
    home: Home = None,
) -> None:
    """Pin an article into another's sidebar at a position (every serving process sees it at once)."""
    with _recommender(home) as rec:
        rec.pin(source, article, position)
    out.print(Text.assemble("pinned ", plain(article), f" at {position} in the sidebar of ", plain(source)))


@app.command()
@reports_errors
def unpin(
    source: Annotated[str, typer.Argument(help="Id of the article whose sidebar has the pin.")],
    article: Annotated[str, typer.Argument(help="Id of the pinned article.")],
    home: Home = None,
) -> None:
    """Take a pin away."""
    with _recommender(home) as rec:
        found = rec.unpin(source, article)
    if not found:
        _line(err, "not found:", "yellow", f"no pin of {article} in the sidebar of {source}")
        raise typer.Exit(1)
    out.print(Text.assemble("unpinned ", plain(article), " from the sidebar of ", plain(source)))


FromOption = Annotated[
    str | None,
    typer.Option("--from", help="Only this article's sidebar (default: every sidebar).", show_default=False),
]


@app.command()
@reports_errors
def block(
    article: Annotated[str, typer.Argument(help="Id of the article to keep out.")],
    source: FromOption = None,
    home: Home = None,
) -> None:
    """Keep an article out of one sidebar (--from ID) or out of every sidebar."""
    with _recommender(home) as rec:
        rec.block(article, source)
    where = Text.assemble("the sidebar of ", plain(source)) if source else Text("every sidebar")
    out.print(Text.assemble("blocked ", plain(article), " from ", where))


@app.command()
@reports_errors
def unblock(
    article: Annotated[str, typer.Argument(help="Id of the blocked article.")],
    source: FromOption = None,
    home: Home = None,
) -> None:
    """Take a block away (the same --from as when it was made)."""
    with _recommender(home) as rec:
        found = rec.unblock(article, source)
    if not found:
        _line(err, "not found:", "yellow", f"no such block of {article}")
        raise typer.Exit(1)
    out.print(Text.assemble("unblocked ", plain(article)))


@app.command()
@reports_errors
def controls(home: Home = None) -> None:
    """List the editors' pins and blocks."""
    with _recommender(home) as rec:
        found = rec.controls()
    table = Table("control", "sidebar of", "article", "position")
    for p in found.pins:
        table.add_row("pin", plain(p.source), plain(p.article), str(p.position))
    for b in found.blocks:
        table.add_row("block", plain(b.source) if b.source else "(every sidebar)", plain(b.article), "")
    out.print(table)


@app.command(context_settings={"ignore_unknown_options": True})  # VALUE may be negative: "-1"
@reports_errors
def settings(
    key: Annotated[str | None, typer.Argument(help="Setting to show or change.")] = None,
    value: Annotated[
        str | None, typer.Argument(help="New value ('auto' where the engine may decide).")
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Put KEY back to its default.")] = False,
    home: Home = None,
) -> None:
    """Show all settings, one setting, or change one (score weights, language, model options)."""
    if reset and (key is None or value is not None):
        raise typer.BadParameter("--reset takes a KEY and no VALUE")
    with _recommender(home) as rec:
        if reset and key:
            current = rec.reset_setting(key)
        elif key and value is not None:
            current = rec.set_setting(key, value)
        else:
            current = rec.settings()
    names = [key] if key else current.keys()
    for name in names:
        if name not in current.keys():
            raise RecommenderError(f"unknown setting {name!r}; known: {', '.join(current.keys())}")
        typer.echo(f"{name} = {visible(format_value(getattr(current, name)))}")


@app.command("eval")
@reports_errors
def eval_(
    judgments: Annotated[
        list[str],
        typer.Option(
            "--judgments",
            "-j",
            help="Graded links or scored pairs CSV, or 'proxy' (same-section, weaker). Repeat to merge "
            "graded-links files per pair (e.g. a shared set plus its deepened pools).",
        ),
    ],
    report: Annotated[Path, typer.Option("--report", "-r", help="Folder for report.json and report.html.")],
    systems: Annotated[
        str | None, typer.Option(help="Comma-separated systems (default: all; see the README).")
    ] = None,
    k: Annotated[
        str, typer.Option("--k", help="Cut-offs, comma-separated; the first is the sidebar.")
    ] = "5,10",
    seed: Annotated[int, typer.Option(help="Seed for sampling, random baseline and examples.")] = 0,
    as_of: Annotated[
        str, typer.Option(help="'source': replay each article at its own time; 'latest': newest article's.")
    ] = "source",
    test: Annotated[str, typer.Option(help="Paired significance test: student or fisher.")] = "student",
    sample: Annotated[int, typer.Option(help="Sources to sample for proxy judgments.")] = 300,
    similar_at: Annotated[
        str | None, typer.Option(help="Scored pairs: which end of the scale means 'same story' (low|high).")
    ] = None,
    score_column: Annotated[str | None, typer.Option(help="Scored pairs: the score column.")] = None,
    language: Annotated[
        str | None, typer.Option(help="Scored pairs: language of texts when the file has no lang columns.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Scored pairs: model (default: the store's).")] = None,
    home: Home = None,
) -> None:
    """Compare the engine, its ablations and baselines against judgments; write an HTML report."""
    from .evaluation import write_report
    from .evaluation.systems import SYSTEM_NAMES

    names = tuple(s.strip() for s in systems.split(",") if s.strip()) if systems else SYSTEM_NAMES
    with _recommender(home) as rec, _progress("evaluating") as bar:

        def progress(what: str, done: int, total: int) -> None:
            bar.update(what, done, total)

        result = rec.evaluate(
            judgments,
            systems=names,
            ks=_ints(k, "--k"),
            seed=seed,
            as_of=as_of,
            test=test,
            sample=sample,
            similar_at=similar_at,
            score_column=score_column,
            language=language,
            model=model,
            progress=progress,
        )
    json_path, html_path = write_report(result, report)
    _print_summary(result)
    for note in result["notes"]:
        out.print(plain(f"- {note}"))
    out.print(plain(f"report: {html_path}  (data: {json_path})"), soft_wrap=True)


class _progress:
    """Progress on stderr: a bar that disappears when done on a terminal; elsewhere (cron, CI, a
    pipe) one line every PROGRESS_SECONDS: done/total, rate and time left."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Progress | None = None
        self.task: Any = None
        self.started = time.monotonic()
        self.last = -1.0
        self.finished: set[str] = set()
        self.phase = label  # what the counts passed to `update` are of now

    def begin(self, phase: str) -> None:
        """A build's phase has begun: the counts from now on are of its work (BUILD_COUNTED)."""
        self.phase = BUILD_COUNTED.get(phase, self.phase)

    def __enter__(self) -> _progress:
        if err.is_terminal:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
            self.bar = Progress(*columns, TimeRemainingColumn(), console=err, transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task(self.label, total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)

    def update(self, what: str, done: int, total: int) -> None:
        if self.bar is not None:
            task = self.bar.tasks[0]
            if what != task.description:  # other work: its rate and time left start afresh
                self.bar.reset(self.task, description=what, completed=done, total=total)
            else:
                self.bar.update(self.task, completed=done, total=total)
            return
        now = time.monotonic()
        if total <= 0 or what in self.finished:
            return
        last_step = done >= total
        if not last_step and self.last >= 0 and now - self.last < PROGRESS_SECONDS:
            return
        if done == 0:
            self.started = now
        self.last = now
        if last_step:
            self.finished.add(what)
        err.print(plain(progress_line(what, done, total, now - self.started)), soft_wrap=True)


def progress_line(what: str, done: int, total: int, seconds: float) -> str:
    """'embedding: 1,024/5,067 (20%), 17.1/s, 3m56s left' (no rate or time left before any is known)."""
    line = f"{what}: {done:,}/{total:,} ({100 * done / total:.0f}%)"
    if done and seconds > 0:
        rate = done / seconds
        line += f", {rate:,.1f}/s"
        if done < total:
            left = int((total - done) / rate)
            line += f", {left // 60}m{left % 60:02d}s left" if left >= 60 else f", {left}s left"
    return line


def _ints(text: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(f"{option} takes whole numbers separated by commas, got {text!r}") from None


def _print_summary(result: dict[str, Any]) -> None:
    """The headline metrics by system, split into as many tables as the terminal's width needs."""
    info = result["metric_info"]
    shown = [m for m, i in info.items() if i["group"] in ("accuracy", "correlation", "judged-only")][:8]
    shown += [m for m in ("near_duplicates", "judged_duplicates_shown", "latency_p50_ms") if m in info]
    names = list(result["metrics"])
    first = max([len("system"), *(len(n) for n in names)]) + 3  # cell padding and borders
    width = (out.width or 80) - first - 1
    groups: list[list[str]] = [[]]
    used = 0
    for metric in shown:
        need = max(len(info[metric]["label"]), 6) + 3
        if groups[-1] and used + need > width:
            groups.append([])
            used = 0
        groups[-1].append(metric)
        used += need
    out.print(plain(result["judgments"]["evidence"]), soft_wrap=False)
    for group in groups:
        table = Table(box=None if out.width < 60 else Table().box)
        table.add_column("system", no_wrap=True)
        for metric in group:
            table.add_column(plain(info[metric]["label"]), justify="right", no_wrap=True)
        for name, row in result["metrics"].items():
            table.add_row(plain(name), *("–" if row.get(m) is None else f"{row[m]:.3f}" for m in group))
        out.print(table)


@app.command()
@reports_errors
def stats(home: Home = None) -> None:
    """Counts, pending embeddings, model and index age."""
    with _recommender(home) as rec:
        s = rec.stats()
    table = Table(show_header=False)
    langs = ", ".join(f"{visible(k)}: {v}" for k, v in s.languages.items()) or "-"
    rows = [
        ("home", str(s.home)),
        ("articles", str(s.articles)),
        ("languages", langs),
        ("sections", str(s.sections)),
        ("undated", str(s.undated)),
        ("published", f"{_day(s.oldest)} .. {_day(s.newest)}"),
        ("model", s.model),
        ("pending embeddings", "? (known once the model is built)" if s.pending is None else str(s.pending)),
        ("index", f"{s.index_count} articles, {s.index_model}" if s.index_count is not None else "not built"),
        ("index built", _with_age(s.index_built_at)),
        (
            "near-duplicate threshold",
            "-" if s.near_duplicate_threshold is None else f"{s.near_duplicate_threshold:.3f}",
        ),
    ]
    for name, val in rows:
        table.add_row(name, plain(val))
    out.print(table)


@app.command()
@reports_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (they share the index's pages).")] = 1,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="A page origin allowed to call the API from a browser. Repeatable; default none."),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the token write endpoints need (else $RECOMMENDER_API_TOKEN; neither: "
            "writes are off).",
            show_default=False,
        ),
    ] = None,
    cache_seconds: Annotated[
        int,
        typer.Option(min=0, help="How long answers may be kept: Cache-Control max-age, in-process cache."),
    ] = 300,
    cache_entries: Annotated[
        int, typer.Option(min=0, help="Sidebars each worker keeps in memory (0: rank every request).")
    ] = 10_000,
    home: Home = None,
) -> None:
    """Serve sidebars over HTTP: JSON API, widget.js, editors' preview, /healthz, /metrics."""
    from .config import resolve_home
    from .serve.cache import CachePolicy
    from .serve.config import MAX_BODY_BYTES, TOKEN_ENV, ServeConfig
    from .serve.run import serve as run_service
    from .serve.tokens import check_token, read_token_file

    token = os.environ.get(TOKEN_ENV) or None
    if token_file is not None:
        token = read_token_file(token_file)
    elif token is not None:
        token = check_token(token, TOKEN_ENV)
    cache = CachePolicy(max_age=cache_seconds, entries=cache_entries)
    config = ServeConfig(resolve_home(home), tuple(cors_origin or ()), MAX_BODY_BYTES, token, cache)
    writes = "writes need the token" if token else "write endpoints off (no token)"
    err.print(
        f"serving {config.home} on http://{host}:{port} ({workers} worker(s), {writes})", highlight=False
    )
    run_service(config, host, port, workers)


def _with_age(iso: str | None) -> str:
    if not iso:
        return "-"
    age = datetime.now(UTC) - datetime.fromisoformat(iso)
    hours = age.total_seconds() / 3600
    if hours < 1:
        ago = f"{hours * 60:.0f} min"
    else:
        ago = f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.0f} days"
    return f"{iso} ({ago} ago)"


def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "-"


def main() -> None:  # pragma: no cover - console script entry point
    app()


if __name__ == "__main__":  # python -m recommender.cli
    main()
