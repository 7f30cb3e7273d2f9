#!/usr/bin/env bash
# Every run behind the tables of eval/README.md, one at a time, then the tables themselves.
#   CRAWL: a store of the whole Bangla crawl (ingest ../shared/data/bangla_news/articles.jsonl.gz
#          --section-from-url --timezone Asia/Dhaka, then build); DEMO: the seeds (ingest seeds/articles.jsonl, build)
#   eval/run_all.sh CRAWL DEMO [REPORTS]      (reports default to eval/reports/, which git ignores)
set -euo pipefail
CRAWL=${1:?crawl store}; DEMO=${2:?demo store}; R=${3:-eval/reports}
D=../shared/data/bn_judgments_dev/bn_dev_judgments.csv
DEEP="eval/judgments/dev_deepening.csv -j eval/judgments/dev_deepening_2.csv -j eval/judgments/dev_deepening_3.csv"  # word-split on purpose
EXT="eval/judgments/extension.csv -j eval/judgments/extension_2.csv -j eval/judgments/extension_3.csv"
S=../shared/data/semeval2022_task8
run() { echo "+ $*" >&2; nice -n 10 "$@" > /dev/null; }
run recommender eval -j $D -r $R/dev-original --home "$CRAWL"
run recommender eval -j $D -j $DEEP -r $R/dev-deepened --home "$CRAWL"
run recommender eval -j $EXT -r $R/bn-new50 --home "$CRAWL"
run recommender eval -j $D -j $DEEP -j $EXT -r $R/bn-100 --home "$CRAWL"
run recommender eval -j seeds/judgments.csv -r $R/seeds --home "$DEMO"
# two-fold cross-validation of the ranking weights (tables printed as they finish)
run_tune() { echo "+ tune $*" >&2; nice -n 10 python -m recommender.evaluation.tune --home "$CRAWL" "$@"; }
run_tune -j $D -j $DEEP --grid lexical_weight=0.2,0.3,0.4 --grid recency_weight=0,0.1 \
    --grid section_weight=0,0.5,1 --grid half_life_days=3,7 --seed 0 --report $R/tune-dev.json
run_tune -j $D -j $DEEP -j $EXT --grid lexical_weight=0.2,0.3,0.4,0.5 --grid recency_weight=0,0.1 \
    --grid section_weight=0,0.5,1 --seed 0 --report $R/tune-100.json
# scored pairs: a store of each file's own texts (its lexical idf fitted on them), then eval
for f in train_pairs:semeval: es_pairs:es:es; do
    IFS=: read -r file name lang <<< "$f"
    store=$R/$name-store
    python eval/pairs_store.py $S/$file.csv ${lang:+--language $lang} > $R/$name.jsonl
    run recommender ingest $R/$name.jsonl --home $store
    run recommender build --home $store
    run recommender eval -j $S/$file.csv --similar-at low ${lang:+--language $lang} -r $R/$name --home $store
done
for r in dev-original dev-deepened bn-new50 bn-100 seeds semeval es; do
    echo "### $r"; python eval/tables.py $R/$r/report.json
done
