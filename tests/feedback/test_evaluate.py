"""Metrics computed exactly, and the held-out comparison with the baseline on real text."""

from __future__ import annotations

import csv
import random

import pytest

from ioc.feedback.classifier import ModelConfig
from ioc.feedback.evaluate import compare_holdout, format_metrics, format_paired, paired, score
from ioc.settings import Settings

DATA = Settings().shared_dir / "data" / "citizen_feedback"
VSFC = DATA / "vi_uit_vsfc_train.csv"
VICTSD = DATA / "vi_victsd_train.csv"


def test_metrics_by_hand() -> None:
    m = score(["a", "a", "b", "b"], ["a", "b", "b", "b"], [0.9, 0.4, 0.8, 0.2], threshold=0.5)
    assert m.accuracy == 0.75 and m.n == 4
    assert m.per_class_recall == {"a": 0.5, "b": 1.0}
    assert m.macro_f1 == pytest.approx((2 / 3 + 0.8) / 2)
    assert m.labels == ("a", "b") and m.confusion == ((1, 1), (0, 2))
    assert m.coverage == 0.5 and m.accuracy_above_threshold == 1.0


def test_predicted_labels_outside_the_truth_appear_in_the_confusion_only() -> None:
    m = score(["a", "a"], ["a", "c"])
    assert m.labels == ("a", "c") and m.confusion == ((1, 1), (0, 0))
    assert m.per_class_recall == {"a": 0.5} and m.coverage is None


def test_nothing_above_threshold_and_bad_input() -> None:
    m = score(["a", "b"], ["a", "a"], [0.1, 0.2], threshold=0.5)
    assert m.coverage == 0.0 and m.accuracy_above_threshold is None
    with pytest.raises(ValueError):
        score([], [])


def test_report_text_has_headline_recall_and_confusion() -> None:
    text = format_metrics(score(["a", "a", "b"], ["a", "b", "b"], [1, 1, 1], 0.5), "m")
    assert "accuracy=0.6667" in text and "coverage=1.0000" in text
    assert "    a " in text and "    b " in text
    assert text.splitlines()[-2].split()[-2:] == ["1", "1"]


def test_paired_comparison_counts_the_discordant_texts() -> None:
    truth = ["a"] * 20
    model = ["a"] * 15 + ["b"] * 5  # right on the first 15
    other = ["b"] * 3 + ["a"] * 12 + ["b"] * 5  # right on texts 3..14
    p = paired(truth, model, other)
    assert (p.n, p.a_only, p.b_only) == (20, 3, 0)
    assert p.accuracy_diff == pytest.approx(0.15)
    assert p.p_value == pytest.approx(0.25)  # two-sided exact binomial, 3 of 3 at 1/2
    low, high = p.diff_ci95
    assert 0.0 <= low <= p.accuracy_diff <= high <= 0.35
    assert "+0.1500" in format_paired(p) and "McNemar exact p=0.25" in format_paired(p)


def test_paired_comparison_of_equal_predictions_and_bad_input() -> None:
    p = paired(["a", "b", "c"], ["a", "b", "b"], ["a", "b", "b"])
    assert (p.a_only, p.b_only, p.p_value, p.accuracy_diff, p.diff_ci95) == (0, 0, 1.0, 0, (0, 0))
    with pytest.raises(ValueError):
        paired(["a"], ["a", "b"], ["a"])
    with pytest.raises(ValueError):
        paired([], [], [])


def test_a_large_consistent_gain_is_significant() -> None:
    truth = ["x"] * 1000
    model = ["x"] * 900 + ["y"] * 100
    other = ["x"] * 850 + ["y"] * 150
    p = paired(truth, model, other)
    assert p.p_value < 1e-6 and p.diff_ci95[0] > 0


@pytest.mark.skipif(not VSFC.exists(), reason="shared UIT-VSFC data not present")
def test_model_and_baseline_on_held_out_real_vietnamese_feedback() -> None:
    with VSFC.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows = random.Random(0).sample(rows, 2000)
    texts, labels = [r["text"] for r in rows], [r["topic"] for r in rows]
    result = compare_holdout(texts, labels, test_size=0.25, seed=1, threshold=0.5)
    assert result["n_test"] == 500 and result["n_train"] == 1500
    model, baseline = result["model"], result["baseline"]
    assert set(model.per_class_recall) == set(labels)
    assert model.accuracy > 0.78 and baseline.accuracy > 0.7
    assert model.macro_f1 >= baseline.macro_f1 - 0.02  # not worse than the baseline
    assert 0 < model.coverage <= 1
    assert result["train_seconds"] > 0 and result["predict_seconds_per_text"] > 0
    assert set(result["weights"]) == {"svm", "nb"}
    pair = result["paired"]
    assert pair.n == 500
    assert pair.accuracy_diff == pytest.approx(model.accuracy - baseline.accuracy)


@pytest.mark.skipif(not VICTSD.exists(), reason="shared UIT-ViCTSD data not present")
def test_naive_bayes_member_helps_on_long_comments() -> None:
    """On news comments (ViCTSD) the SVM + naive-Bayes ensemble beats the SVM alone."""
    with VICTSD.open(encoding="utf-8") as handle:
        rows = random.Random(0).sample(list(csv.DictReader(handle)), 3000)
    texts, labels = [r["text"] for r in rows], [r["topic"] for r in rows]
    both = compare_holdout(texts, labels, test_size=0.3, seed=1)
    svm = compare_holdout(texts, labels, 0.3, 1, ModelConfig(nb_alpha=None), baseline=False)
    assert "baseline" not in svm and set(svm["weights"]) == {"svm"}
    assert both["weights"]["nb"] > 0
    assert both["model"].accuracy >= svm["model"].accuracy + 0.01
    assert both["model"].accuracy > both["baseline"].accuracy + 0.02
