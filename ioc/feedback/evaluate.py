"""Honest measurement of a feedback classifier, beside a TF-IDF + logistic-regression baseline.

A model is only worth shipping if it beats the plain baseline on text it never saw, so
every report here can carry both: :func:`compare_holdout` splits one labelled set
(stratified, fixed seed), trains the model and the baseline on the same training part and
scores both on the same held-out part. Accuracy alone hides rare categories, so macro-F1,
per-class recall and the confusion matrix come too, and, for a triage threshold, the share
of reports routed automatically (coverage) and the accuracy on that share. Two models scored
on the same texts are also compared *pairwise* (:func:`paired`): McNemar's exact test on the
texts only one of them gets right, and a bootstrap interval of the accuracy difference, so
"better than the baseline" is a statement with its uncertainty, not two numbers side by side.

Example::

    result = compare_holdout(texts, labels, test_size=0.2, seed=42)
    result["model"].accuracy, result["baseline"].accuracy
    print(format_metrics(result["model"]))
    result["paired"].p_value  # model vs baseline on the same held-out texts
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import binomtest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline

from ioc.feedback.classifier import ModelConfig, TextClassifier

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Metrics:
    """Scores of one model on one labelled set; ``confusion[i][j]``: true i, predicted j."""

    n: int
    accuracy: float
    macro_f1: float
    per_class_recall: dict[str, float]
    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    threshold: float | None = None
    coverage: float | None = None
    accuracy_above_threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    confidences: Sequence[float] | None = None,
    threshold: float | None = None,
) -> Metrics:
    """Metrics of predictions against the truth (labels as strings)."""
    if len(y_true) != len(y_pred) or not y_true:
        raise ValueError("need equally many, and at least one, true and predicted labels")
    labels = sorted(set(y_true) | set(y_pred))
    recall = recall_score(y_true, y_pred, labels=sorted(set(y_true)), average=None, zero_division=0)
    coverage = acc_conf = None
    if confidences is not None and threshold is not None:
        sure = np.asarray(confidences) >= threshold
        coverage = float(sure.mean())
        if sure.any():
            hits = np.asarray(y_true)[sure] == np.asarray(y_pred)[sure]
            acc_conf = float(hits.mean())
    return Metrics(
        n=len(y_true),
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(
            f1_score(y_true, y_pred, labels=sorted(set(y_true)), average="macro", zero_division=0)
        ),
        per_class_recall={lb: float(r) for lb, r in zip(sorted(set(y_true)), recall, strict=True)},
        labels=tuple(labels),
        confusion=tuple(
            tuple(int(v) for v in row) for row in confusion_matrix(y_true, y_pred, labels=labels)
        ),
        threshold=threshold,
        coverage=coverage,
        accuracy_above_threshold=acc_conf,
    )


@dataclass(frozen=True, slots=True)
class Paired:
    """Model A against model B on the same labelled texts.

    ``a_only``/``b_only``: texts only A / only B gets right. ``p_value``: McNemar's exact
    two-sided test (a binomial test on those discordant texts) of "A and B are equally
    accurate". ``diff_ci95``: percentile bootstrap interval of accuracy(A) - accuracy(B),
    resampling the texts (fixed seed, so a report is reproducible)."""

    n: int
    accuracy_diff: float
    a_only: int
    b_only: int
    p_value: float
    diff_ci95: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired(
    y_true: Sequence[str],
    pred_a: Sequence[str],
    pred_b: Sequence[str],
    resamples: int = 2000,
    seed: int = 0,
) -> Paired:
    """Compare two models' predictions of the same texts (see :class:`Paired`)."""
    if not (len(y_true) == len(pred_a) == len(pred_b)) or not y_true:
        raise ValueError("need equally many, and at least one, labels and predictions")
    truth = np.asarray(y_true, dtype=object)
    hit_a = np.asarray(pred_a, dtype=object) == truth
    hit_b = np.asarray(pred_b, dtype=object) == truth
    a_only = int(np.sum(hit_a & ~hit_b))
    b_only = int(np.sum(hit_b & ~hit_a))
    discordant = a_only + b_only
    p_value = 1.0 if discordant == 0 else float(binomtest(a_only, discordant, 0.5).pvalue)
    delta = hit_a.astype(np.float64) - hit_b.astype(np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(delta), size=(resamples, len(delta)))
    means = delta[picks].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Paired(
        n=len(delta),
        accuracy_diff=float(delta.mean()),
        a_only=a_only,
        b_only=b_only,
        p_value=p_value,
        diff_ci95=(float(low), float(high)),
    )


def predict_labels(model: TextClassifier, texts: Sequence[str]) -> tuple[list[str], list[float]]:
    """The model's top category and its confidence for each text."""
    predictions = model.predict_many(texts, k=1)
    return [p.category for p in predictions], [p.confidence for p in predictions]


def train_baseline(texts: Sequence[str], labels: Sequence[str]) -> Pipeline:
    """The reference: default ``TfidfVectorizer`` + ``LogisticRegression`` on the raw text."""
    pipe = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
    pipe.fit(list(texts), list(labels))
    return pipe


def baseline_labels(pipe: Pipeline, texts: Sequence[str]) -> list[str]:
    return [str(p) for p in pipe.predict(list(texts))]


def compare_holdout(
    texts: Sequence[str],
    labels: Sequence[str],
    test_size: float = 0.2,
    seed: int = 42,
    config: ModelConfig | None = None,
    threshold: float | None = None,
    baseline: bool = True,
) -> dict[str, Any]:
    """Train model and baseline on one stratified part, score both on the held-out rest.

    Also gives the model's training time and prediction time per text (seconds), measured
    on this machine, and ``paired``: the model against the baseline text by text
    (:func:`paired`); ``baseline=False`` skips the baseline (when it was run already)."""
    x_train, x_test, y_train, y_test = train_test_split(
        list(texts), list(labels), test_size=test_size, stratify=list(labels), random_state=seed
    )
    started = time.perf_counter()
    model = TextClassifier.train(x_train, y_train, config)
    trained = time.perf_counter()
    categories, confidences = predict_labels(model, x_test)
    predicted = time.perf_counter()
    metrics = score(y_test, categories, confidences, threshold)
    logger.info("held-out comparison: %d train, %d test texts", len(x_train), len(x_test))
    out: dict[str, Any] = {
        "n_train": len(x_train),
        "n_test": len(x_test),
        "seed": seed,
        "model": metrics,
        "model_version": model.metadata["model_version"],
        "weights": dict(model.weights),
        "train_seconds": trained - started,
        "predict_seconds_per_text": (predicted - trained) / len(x_test),
    }
    if baseline:
        reference = baseline_labels(train_baseline(x_train, y_train), x_test)
        out["baseline"] = score(y_test, reference)
        out["paired"] = paired(y_test, categories, reference)
    return out


def format_metrics(m: Metrics, title: str = "model") -> str:
    """A plain-text report: headline figures, per-class recall, confusion matrix."""
    lines = [f"{title}: n={m.n} accuracy={m.accuracy:.4f} macro-F1={m.macro_f1:.4f}"]
    if m.coverage is not None:
        above = "n/a" if m.accuracy_above_threshold is None else f"{m.accuracy_above_threshold:.4f}"
        lines.append(f"  confidence >= {m.threshold}: coverage={m.coverage:.4f} accuracy={above}")
    lines.append("  per-class recall:")
    lines += [f"    {label:<28} {r:.4f}" for label, r in m.per_class_recall.items()]
    width = max(5, *(len(str(v)) for row in m.confusion for v in row))
    lines.append("  confusion (rows: true, columns: predicted, in label order):")
    for label, row in zip(m.labels, m.confusion, strict=True):
        lines.append(f"    {label[:20]:<20} " + " ".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)


def format_paired(p: Paired, a: str = "model", b: str = "baseline") -> str:
    """One line: the accuracy difference, its interval and McNemar's p-value."""
    low, high = p.diff_ci95
    return (
        f"{a} - {b}: accuracy {p.accuracy_diff:+.4f} (95% bootstrap CI {low:+.4f} to "
        f"{high:+.4f}); right only by {a} {p.a_only}, only by {b} {p.b_only}, "
        f"McNemar exact p={p.p_value:.2g} (n={p.n})"
    )
