#!/usr/bin/env python3
"""Scores the PyPI baselines on Vigil's held-out test parts.

Reads JSON Lines files {"text", "label", "lang"?} (as `vigil classifier split` writes
them) and prints CSV rows in the shape of `vigil classifier eval --format csv`
(one row per gold class), for:

- VADER (PyPI vaderSentiment) on English files: compound >= 0.05 positive,
  <= -0.05 negative, else neutral (the thresholds VADER's authors recommend);
- SnowNLP (PyPI snownlp) on Chinese files: sentiments() in [0, 1], mapped to
  -1..1 as 2p - 1, neutral within +-0.1 (SnowNLP has no neutral class of its own).

Sets without a neutral label are scored negative/positive by the sign of the score,
as `vigil classifier eval` does. Also prints throughput (texts per second, one
process) to stderr as `throughput,<tool>,<file>,<texts>,<seconds>`.
"""

import csv
import json
import sys
import time

LABELS = ["negative", "neutral", "positive"]


def read(path):
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            row = json.loads(line)
            rows.append((row["text"], row["label"], row.get("lang") or ""))
    return rows


def is_chinese(rows):
    zh = sum(1 for text, _, lang in rows if lang.startswith("zh"))
    return zh * 2 > len(rows)


def vader_scorer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()

    def score(text):
        compound = analyzer.polarity_scores(text)["compound"]
        if compound >= 0.05:
            label = "positive"
        elif compound <= -0.05:
            label = "negative"
        else:
            label = "neutral"
        return compound, label

    import vaderSentiment

    version = getattr(vaderSentiment, "__version__", None)
    if version is None:
        from importlib.metadata import version as package_version

        version = package_version("vaderSentiment")
    return "vader-python", version, score


def snownlp_scorer():
    from snownlp import SnowNLP
    from importlib.metadata import version as package_version

    def score(text):
        value = 2.0 * SnowNLP(text).sentiments - 1.0
        if value > 0.1:
            label = "positive"
        elif value < -0.1:
            label = "negative"
        else:
            label = "neutral"
        return value, label

    return "snownlp", package_version("snownlp"), score


def evaluate(rows, score):
    binary = not any(label == "neutral" for _, label, _ in rows)
    classes = ["negative", "positive"] if binary else LABELS
    confusion = {gold: {pred: 0 for pred in classes} for gold in classes}
    started = time.perf_counter()
    for text, gold, _ in rows:
        value, label = score(text)
        if binary:
            label = "positive" if value > 0 else "negative"
        confusion[gold][label] += 1
    seconds = time.perf_counter() - started
    total = len(rows)
    right = sum(confusion[c][c] for c in classes)
    per_class = []
    for c in classes:
        support = sum(confusion[c].values())
        predicted = sum(confusion[g][c] for g in classes)
        precision = confusion[c][c] / predicted if predicted else 0.0
        recall = confusion[c][c] / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append((c, precision, recall, f1, support, predicted))
    macro_f1 = sum(p[3] for p in per_class) / len(per_class)
    task = "binary" if binary else "three-class"
    return task, total, right / total if total else 0.0, macro_f1, per_class, confusion, seconds


def main(paths):
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(
        ["dataset", "backend", "version", "task", "n", "accuracy", "macro_f1", "class",
         "precision", "recall", "f1", "support", "predicted", "predicted_negative",
         "predicted_neutral", "predicted_positive"]
    )
    scorers = {}
    for path in paths:
        rows = read(path)
        if not rows:
            continue
        kind = "snownlp" if is_chinese(rows) else "vader"
        if kind not in scorers:
            scorers[kind] = snownlp_scorer() if kind == "snownlp" else vader_scorer()
        name, version, score = scorers[kind]
        task, total, accuracy, macro_f1, per_class, confusion, seconds = evaluate(rows, score)
        dataset = path.rsplit("/", 1)[-1]
        for c, precision, recall, f1, support, predicted in per_class:
            writer.writerow(
                [dataset, name, version, task, total, f"{accuracy:.4f}", f"{macro_f1:.4f}", c,
                 f"{precision:.4f}", f"{recall:.4f}", f"{f1:.4f}", support, predicted]
                + [confusion[c].get(p, "") for p in LABELS]
            )
        print(f"throughput,{name},{dataset},{total},{seconds:.3f}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: sentiment_baselines.py FILE.jsonl...")
    main(sys.argv[1:])
