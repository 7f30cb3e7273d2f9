#!/usr/bin/env bash
# Every run behind the tables of eval/README.md, one at a time, then the tables themselves.
#   CRAWL: a store of the whole Bangla crawl (ingest ../shared/data/bangla_news/articles.jsonl.gz
#          --section-from-url --timezone Asia/Dhaka, then build); DEMO: the seeds (ingest seeds/articles.jsonl, build)
#   eval/run_all.sh CRAWL DEMO [REPORTS]      (reports default to eval/reports/, which git ignores)
set -euo pipefail
CRAWL=${1:?crawl store}; DEMO=${2:?demo store}; R=${3:-eval/reports}
D=../shared/data/bn_judgments_dev/bn_dev_judgments.csv
DEEP=eval/judgments/dev_deepening.csv
EXT=eval/judgments/extension.csv
S=../shared/data/semeval2022_task8
run() { echo "+ $*" >&2; nice -n 10 "$@" > /dev/null; }
run recommender eval -j $D -r $R/dev-original --home "$CRAWL"
run recommender eval -j $D -j $DEEP -r $R/dev-deepened --home "$CRAWL"
run recommender eval -j $EXT -r $R/bn-new50 --home "$CRAWL"
run recommender eval -j $D -j $DEEP -j $EXT -r $R/bn-100 --home "$CRAWL"
run recommender eval -j seeds/judgments.csv -r $R/seeds --home "$DEMO"
run recommender eval -j $S/train_pairs.csv --similar-at low -r $R/semeval --home "$CRAWL"
run recommender eval -j $S/es_pairs.csv --similar-at low --language es -r $R/es --home "$CRAWL"
for r in dev-original dev-deepened bn-new50 bn-100 seeds semeval es; do
    echo "### $r"; python eval/tables.py $R/$r/report.json
done
