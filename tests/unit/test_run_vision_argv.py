"""How `ioc run` starts its cameras, from the settings (`ioc.cli.run.vision_argv`)."""

from __future__ import annotations

from ioc.cli.run import vision_argv
from ioc.settings import Settings


def test_auto_sizing_by_default_with_the_share() -> None:
    argv, how = vision_argv(Settings(vision_run_detect_fps="auto", vision_run_cpu_share=0.5))
    assert argv == ["vision", "run", "--all", "--max-detect-fps", "auto", "--cpu-share", "0.5"]
    assert how == "detections/s sized to 0.5 of this host's cores"


def test_the_input_size_kept_when_asked() -> None:
    argv, _ = vision_argv(Settings(vision_run_detect_fps="auto", vision_run_keep_input_size=True))
    assert argv[-1] == "--keep-input-size" and "auto" in argv


def test_a_fixed_cap_never_sizes_anything() -> None:
    settings = Settings(vision_run_detect_fps=3, vision_run_keep_input_size=True)
    argv, how = vision_argv(settings)
    assert argv == ["vision", "run", "--all", "--max-detect-fps", "3"]
    assert how == "at most 3 detections/s each"
