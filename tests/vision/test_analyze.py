"""``ioc vision analyze`` on the real junction clip: report.json is consistent with the evidence
on disk and its line crossings are the hand counts; bad input is a clear error; the evidence
rate comes from the settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ioc.cli import main
from ioc.settings import Settings
from vision.pipeline import Pipeline, PipelineOptions

pytestmark = pytest.mark.vision
CLIP = Settings().shared_dir / "data" / "video" / "vn_cctv_junction_a.mp4"
HAND = yaml.safe_load(Path(__file__).with_name("hand_counts.yaml").read_text(encoding="utf-8"))


def test_analyze_writes_a_report_matching_the_evidence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IOC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IOC_VISION_DEVICE", "cpu")
    out = tmp_path / "out"
    code = main(["vision", "analyze", str(CLIP), "--camera", "vn-junction-a", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["frames_decoded"] == 142 and report["camera"] == "vn-junction-a"
    assert 0 < report["detector_frames"] <= report["frames_processed"] <= 142
    want = HAND["clips"]["vn_cctv_junction_a.mp4"]["lines"]["approach_entry"]["forward"]
    assert report["line_crossings"]["approach_entry"]["forward"] == want
    assert report["unique_vehicles"].get("motorbike", 0) >= 5
    root = Path(report["evidence_root"])
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    listed = {path for v in report["violations"] for path in v["evidence"]}
    assert listed == on_disk  # every listed file exists, nothing unlisted was written
    for v in report["violations"]:
        assert v["rule"] and v["citation"].startswith("Điểm") and v["track_id"] >= 0


def test_analyze_names_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.mp4"
    assert main(["vision", "analyze", str(missing), "--camera", "x", "--out", str(tmp_path)]) == 1
    assert "video not found" in capsys.readouterr().err
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    code = main(["vision", "analyze", str(broken), "--camera", "vn-junction-a", "--out", "o"])
    assert code == 1 and "vn-junction-a: cannot read video" in capsys.readouterr().err


class _Built(Exception):
    """Stops ``analyze`` once its pipeline options are known."""


def test_analyze_keeps_evidence_at_the_configured_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IOC_VISION_DEVICE", "cpu")
    monkeypatch.setenv("IOC_VISION_EVIDENCE_FPS", "5")
    seen: list[PipelineOptions] = []

    def build(cls: type[Pipeline], *args: object) -> Pipeline:
        opts = args[-1]
        assert isinstance(opts, PipelineOptions)
        seen.append(opts)
        raise _Built

    monkeypatch.setattr(Pipeline, "build", classmethod(build))
    with pytest.raises(_Built):
        main(["vision", "analyze", str(CLIP), "--camera", "vn-junction-a", "--out", str(tmp_path)])
    assert [o.evidence_fps for o in seen] == [5.0]


def test_evidence_rate_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_VISION_EVIDENCE_FPS", "0.5")
    with pytest.raises(ValueError, match="vision_evidence_fps"):
        Settings()
