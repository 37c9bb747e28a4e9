"""Device choice is a pure function of what is present: the GPU path is tested without one."""

from __future__ import annotations

import pytest

from vision.device import DevicePlan, plan_device


def test_cpu_when_no_cuda() -> None:
    plan = plan_device("auto", cuda_devices=0, model_suffix=".pt", cameras=4, max_batch=8)
    assert (plan.device, plan.half, plan.batch, plan.is_cuda) == ("cpu", False, 1, False)


def test_cuda_half_and_batched_across_cameras() -> None:
    plan = plan_device("auto", cuda_devices=1, model_suffix=".pt", cameras=4, max_batch=8)
    assert (plan.device, plan.half, plan.batch) == ("cuda:0", True, 4)
    assert (
        plan_device("auto", cuda_devices=2, model_suffix=".pt", cameras=20, max_batch=8).batch == 8
    )


def test_onnx_graph_is_fp32_batch_one_even_on_gpu() -> None:
    plan = plan_device("cuda", cuda_devices=1, model_suffix=".onnx", cameras=4, max_batch=8)
    assert (plan.device, plan.half, plan.batch) == ("cuda:0", False, 1)


def test_explicit_choices() -> None:
    assert (
        plan_device("cpu", cuda_devices=1, model_suffix=".pt", cameras=2, max_batch=8).device
        == "cpu"
    )
    assert (
        plan_device("cuda:1", cuda_devices=2, model_suffix=".pt", cameras=2, max_batch=8).device
        == "cuda:1"
    )
    with pytest.raises(ValueError, match="only 1 CUDA"):
        plan_device("cuda:1", cuda_devices=1, model_suffix=".pt", cameras=1, max_batch=8)
    with pytest.raises(ValueError, match="0 CUDA"):
        plan_device("cuda", cuda_devices=0, model_suffix=".pt", cameras=1, max_batch=8)
    with pytest.raises(ValueError, match="expected auto"):
        plan_device("tpu", cuda_devices=0, model_suffix=".pt", cameras=1, max_batch=8)


def _plan(
    runtime: str = "torch",
    suffix: str = ".pt",
    openvino: bool = True,
    cuda: int = 0,
    preprocess: str = "auto",
) -> DevicePlan:
    return plan_device(
        "auto",
        cuda_devices=cuda,
        model_suffix=suffix,
        cameras=2,
        max_batch=8,
        cpu_runtime=runtime,
        openvino=openvino,
        preprocess=preprocess,
    )


def test_cpu_runtime_openvino_when_present_for_pytorch_weights() -> None:
    def plan(runtime: str, suffix: str = ".pt", openvino: bool = True, cuda: int = 0) -> str:
        return _plan(runtime, suffix, openvino, cuda).runtime

    assert plan("auto") == "openvino"
    assert plan("auto", openvino=False) == "torch"
    assert plan("auto", suffix=".onnx") == "torch"
    assert plan("torch") == "torch"
    assert plan("openvino") == "openvino"
    assert plan("openvino", cuda=1) == "torch"  # a GPU runs PyTorch (fp16, batched)
    with pytest.raises(ValueError, match="pip install openvino"):
        plan("openvino", openvino=False)
    with pytest.raises(ValueError, match=r"\.pt"):
        plan("openvino", suffix=".onnx")
    with pytest.raises(ValueError, match="expected one of"):
        plan("tensorrt")


def test_preprocess_beside_the_network_on_a_gpu_and_on_openvino() -> None:
    def plan(asked: str, cuda: int = 1, suffix: str = ".pt", runtime: str = "torch") -> str:
        return _plan(runtime, suffix, cuda=cuda, preprocess=asked).preprocess

    assert plan("auto") == "device"
    assert plan("host") == "host"
    assert plan("auto", cuda=0) == "host"  # PyTorch on a CPU: ultralytics' predictor
    assert plan("device", cuda=0) == "device"  # torch on the CPU: allowed (tests use it)
    assert plan("auto", cuda=0, runtime="openvino") == "device"  # vision.openvino_batch
    assert plan("host", cuda=0, runtime="openvino") == "host"
    assert plan("auto", suffix=".onnx") == "host"
    assert plan("auto", cuda=0, suffix=".onnx", runtime="auto") == "host"
    with pytest.raises(ValueError, match=r"needs \.pt weights"):
        plan("device", suffix=".onnx")
    with pytest.raises(ValueError, match=r"needs \.pt weights"):
        plan("device", cuda=0, suffix=".onnx")
    with pytest.raises(ValueError, match="expected one of"):
        plan("gpu")
    reason = _plan("openvino", ".pt", cuda=0, preprocess="auto").reason
    assert "scaling in the OpenVINO graph" in reason
