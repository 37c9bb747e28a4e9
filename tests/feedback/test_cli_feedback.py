"""``ioc feedback train|evaluate|classify|catalogue`` end to end on small files."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest

from ioc.cli import feedback
from ioc.feedback.catalogue import load_feedback_catalogue
from ioc.settings import Settings


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ioc")
    feedback.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["feedback", *argv])
    code: int = args.func(args, Settings())
    return code


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fb") / "labelled.csv"
    pairs = load_feedback_catalogue().training_examples()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "noi_dung", "linh_vuc"])
        for i, (text, label) in enumerate(pairs):
            writer.writerow([i, text, label])
        writer.writerow([len(pairs), "", "flooding"])  # skipped: empty text
    return path


def test_train_evaluate_classify(
    labelled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "models" / "fb.npz"
    cols = ["--text-col", "noi_dung", "--label-col", "linh_vuc"]
    assert run(["train", "--csv", str(labelled), *cols, "--model", str(model), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert model.exists() and "flooding" in trained["labels"]
    assert trained["kind"].endswith("+e5-small-q4-logreg")  # the default embedding member

    assert (
        run(
            [
                "evaluate",
                "--csv",
                str(labelled),
                *cols,
                "--model",
                str(model),
                "--json",
                "--baseline-train-csv",
                str(labelled),
                "--threshold",
                "0.4",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["model"]["accuracy"] > 0.9  # its own training data
    assert report["model_version"] == trained["model_version"]
    assert {"accuracy", "macro_f1", "per_class_recall", "confusion"} <= set(report["baseline"])
    pair = report["paired"]
    assert pair["n"] == report["model"]["n"] and 0 <= pair["p_value"] <= 1
    assert pair["accuracy_diff"] == pytest.approx(
        report["model"]["accuracy"] - report["baseline"]["accuracy"]
    )

    assert run(["evaluate", "--csv", str(labelled), *cols, "--model", str(model)]) == 0
    text = capsys.readouterr().out
    assert "macro-F1=" in text and "confusion" in text

    assert run(["classify", "--model", str(model), "--json", "mất điện cả phố từ sáng"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["category"] == "power-outage" and line["department"] == "electricity"
    assert len(line["top"]) == 3 and isinstance(line["triage"], bool)


def test_train_needs_data_and_columns(labelled: Path, tmp_path: Path) -> None:
    assert run(["train", "--model", str(tmp_path / "m.npz")]) == 2
    with pytest.raises(SystemExit, match="no column"):
        run(["train", "--csv", str(labelled), "--text-col", "text", "--model", str(tmp_path / "m")])


def test_train_from_catalogue_and_reassignments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = tmp_path / "reassignments.csv"
    extra.write_text("text,category\ncon mèo kẹt trên cột điện,power-line-hazard\n", "utf-8")
    model = tmp_path / "m.npz"
    assert (
        run(["train", "--catalogue-examples", "--reassignments", str(extra), "--model", str(model)])
        == 0
    )
    assert "trained on" in capsys.readouterr().out
    assert run(["classify", "--model", str(model), "con mèo kẹt trên cột điện"]) == 0
    assert capsys.readouterr().out.startswith("power-line-hazard")


def test_classify_with_the_default_model_and_triage(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["classify", "--threshold", "0.99", "zzz qqq"]) == 0
    assert "TRIAGE" in capsys.readouterr().out


def test_holdout_evaluation(labelled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cols = ["--text-col", "noi_dung", "--label-col", "linh_vuc"]
    assert run(["evaluate", "--csv", str(labelled), *cols, "--holdout", "0.3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"]["n"] == report["n_test"] and "baseline" in report
    assert report["paired"]["n"] == report["n_test"]
    assert run(["evaluate", "--csv", str(labelled), *cols, "--holdout", "0.3"]) == 0
    assert "McNemar exact p=" in capsys.readouterr().out


def test_catalogue_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["catalogue"]) == 0
    assert "flooding" in capsys.readouterr().out
    assert run(["catalogue", "--json"]) == 0
    services = json.loads(capsys.readouterr().out)
    assert any(s["service_code"] == "flooding" for s in services)


def test_bad_model_file_and_unknown_embedding_are_reported(tmp_path: Path, labelled: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a model")
    with pytest.raises(SystemExit, match="cannot load model"):
        run(["classify", "--model", str(junk), "mất điện"])
    out = str(tmp_path / "m.npz")
    assert run(["train", "--catalogue-examples", "--embedding", "nope", "--model", out]) == 2
    cols = ["--text-col", "noi_dung", "--label-col", "linh_vuc"]
    evaluate = ["evaluate", "--csv", str(labelled), *cols, "--model", out, "--embedding", "x"]
    assert run(evaluate) == 2  # a saved model keeps its own embedding


def test_the_embedding_member_can_be_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "m.npz")
    args = ["train", "--catalogue-examples", "--embedding", "none", "--model", out, "--json"]
    assert run(args) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "tfidf-linearsvc+cnb"
