"""The texts of a scored-pairs file as articles to ingest, so that a store's lexical index (its idf)
is fitted on the file's own texts, as a news site's would be on its own archive.

    python eval/pairs_store.py ../shared/data/semeval2022_task8/es_pairs.csv --language es > /tmp/es.jsonl
    recommender ingest /tmp/es.jsonl --home /tmp/es-store && recommender build --home /tmp/es-store
    recommender eval -j ../shared/data/semeval2022_task8/es_pairs.csv --similar-at low --language es \\
        -r R/es --home /tmp/es-store

Each distinct text becomes one article (id: a hash of the text; title and body split as
`judgments.as_article` says, so that `recommender eval` finds the article's vector for the text;
language from the file). The JSONL holds article text: write it outside the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from recommender.evaluation.judgments import ScoredPairs, as_article, read_judgments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eval/pairs_store.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", type=Path)
    parser.add_argument(
        "--language", default=None, help="language of texts when the file has no lang columns"
    )
    args = parser.parse_args(argv)
    read = read_judgments(args.pairs, similar_at="low", language=args.language)
    if not isinstance(read, ScoredPairs):
        print(f"error: {args.pairs} holds graded links, not scored text pairs", file=sys.stderr)
        return 1
    seen: set[str] = set()
    for pair in read.pairs:
        for text, language in ((pair.text1, pair.lang1), (pair.text2, pair.lang2)):
            if text in seen:
                continue
            seen.add(text)
            title, body = as_article(text)
            ident = "t" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]
            row = {"id": ident, "title": title, "body": body}
            if language and language != "?":
                row["language"] = language
            print(json.dumps(row, ensure_ascii=False))
    print(f"{len(seen)} texts", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
