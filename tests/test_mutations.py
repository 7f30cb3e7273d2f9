"""The mutation list stays true to the code: every snippet occurs exactly once (`make mutate` runs them)."""

from __future__ import annotations

import pytest

from . import mutations


@pytest.mark.parametrize("mutation", mutations.MUTATIONS + mutations.SLOW, ids=lambda m: m.name)
def test_every_mutation_snippet_occurs_once(mutation: mutations.Mutation) -> None:
    mutations.check(mutation)
    assert mutation.replacement != mutation.snippet and mutation.tests


def test_a_stale_snippet_fails_loudly() -> None:
    stale = mutations.Mutation("stale", "recommender/config.py", "no such code", "x", ("tests",))
    with pytest.raises(SystemExit, match="occurs 0 times"):
        mutations.check(stale)


def test_the_issues_mutations_are_listed() -> None:
    names = {m.name for m in mutations.MUTATIONS}
    assert {
        "recency off",
        "copy removal off",
        "tune() reports 1.0 without tuning",
        "undated articles pass max_age",
        "fallback order reversed",
        "settings validation skipped",
    } <= names
