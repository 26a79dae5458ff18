import json

import pytest
import torch

from vicreg_report import bench
from vicreg_report.paths import build_dir


def test_bench_smoke_writes_throughputs_ratio_and_saved_stage_times(capsys):
    timings = build_dir() / "results" / "smoke" / "seed-0" / "timings.json"
    timings.parent.mkdir(parents=True)
    timings.write_text(json.dumps({"train:q1": 1.5, "total": 9.0}))

    assert bench.main(["--profile", "smoke", "--steps", "2", "--warmup", "1",
                       "--device", "cpu", "--no-progress"]) == 0

    result = json.loads((build_dir() / "bench" / "smoke-cpu.json").read_text())
    ref = result["pipelines"]["reference_per_image"]
    ours = result["pipelines"]["batched_on_device"]
    for r in (ref, ours):
        assert r["images_per_s"] > 0 and r["peak_memory_mib"] > 0
        assert r["images_per_s"] == pytest.approx(2 * 64 / r["timed_s"])
    assert result["ratio_batched_over_reference"] == pytest.approx(
        ours["images_per_s"] / ref["images_per_s"], rel=1e-12)
    assert ref["workers"] >= 1
    assert result["stage_times_s"] == {"train:q1": 1.5, "total": 9.0}
    assert str(timings) in result["stage_times_source"]
    assert result["device_type"] == "cpu" and result["speed"]["bf16"] is False
    assert result["commit"] and result["torch"] == torch.__version__


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_bench_without_gpu_refuses_cuda_cleanly(capsys):
    assert bench.main(["--profile", "smoke", "--device", "cuda", "--no-progress"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    assert not (build_dir() / "bench").exists()


def test_bench_rejects_bad_step_counts(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--steps", "0"])
    assert exit_.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
