"""Several processes train as one (issue 15), proved on the CPU with gloo: two processes
with half the batch each take the same step as one process with all of it, and torchrun
runs a short distributed training end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from vicreg_report.config import SMOKE
from vicreg_report.data import synthetic
from vicreg_report.distributed import local_part, synchronise, unwrapped
from vicreg_report.model import build_model
from vicreg_report.training import (PLAIN, as_tensor, augmented_pairs, make_optimizer,
                                    prepare_model, train_step)

ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")
PROFILE = SMOKE.replace(batch_size=256, train_images=256)


def one_step(out: Path | None = None) -> dict:
    """One training step on the global batch of 256 (this process's share of it), in
    float64, so that what differs between one process and two is rounding only."""
    torch.set_num_threads(1)
    d = synthetic(0, PROFILE.train_images, PROFILE.test_images)
    images = as_tensor(d.train_x, CPU)
    model = synchronise(prepare_model(build_model(PROFILE).double(), CPU), CPU)
    optimizer = make_optimizer(model, PROFILE)
    pairs = augmented_pairs(images, PLAIN, local_part(PROFILE.batch_size))
    x, y = pairs(torch.randperm(256, generator=torch.Generator().manual_seed(3)),
                 torch.Generator().manual_seed(4))
    x, y = x.double(), y.double()
    terms = train_step(model, optimizer, x, y, PROFILE)
    inner = unwrapped(model)
    state = {"loss": terms.as_floats(), "rows": len(x),
             "grads": {n: p.grad.clone() for n, p in inner.named_parameters()},
             "after": {n: t.clone() for n, t in inner.state_dict().items()}}
    if out is not None:
        torch.save(state, out)
    return state


def _process(rank: int, world: int, folder: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank,
                            world_size=world)
    try:
        one_step(Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_processes_take_the_same_step_as_one(tmp_path):
    alone = one_step()
    mp.spawn(_process, args=(2, str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert alone["rows"] == 256 and [r["rows"] for r in ranks] == [128, 128]
    for state in ranks:
        for term, value in alone["loss"].items():
            assert state["loss"][term] == pytest.approx(value, rel=1e-12), term
        for name, grad in alone["grads"].items():    # biases before a BatchNorm: ~1e-17 both
            torch.testing.assert_close(state["grads"][name], grad, rtol=1e-9, atol=1e-14,
                                       msg=name)
        for name, tensor in alone["after"].items():     # parameters and BatchNorm buffers
            # (Adam moves the biases before a BatchNorm by lr * noise / eps, ~1e-12)
            torch.testing.assert_close(state["after"][name], tensor, rtol=1e-9, atol=1e-10,
                                       msg=name)


def test_the_global_batch_is_split_in_equal_shares(monkeypatch):
    import vicreg_report.distributed as d

    monkeypatch.setattr(d, "world", lambda: (1, 4))
    assert d.local_part(256) == slice(64, 128)
    with pytest.raises(d.VicregError, match="cannot be split evenly over 4"):
        d.local_part(250)


def test_torchrun_trains_the_encoders_end_to_end(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VICREG_")}
    env.update(PYTHONPATH=str(ROOT / "src"), VICREG_BUILD_DIR=str(tmp_path / "two"),
               OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                          "-m", "vicreg_report", "train", "--profile", "smoke", "--no-progress"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    folder = tmp_path / "two" / "results" / "smoke" / "seed-0"
    assert {"train.q1.json", "train.q4.json", "train.q5.json", "q5.pt"} <= \
        {p.name for p in folder.iterdir()}
    assert out.stderr.count("recomputed train:q1") == 1          # one process speaks
    env["VICREG_BUILD_DIR"] = str(tmp_path / "one")
    single = subprocess.run([sys.executable, "-m", "vicreg_report", "train", "--profile",
                             "smoke", "--no-progress"], env=env, capture_output=True,
                            text=True, timeout=600)
    assert single.returncode == 0, single.stderr
    for encoder in ("q1", "q4"):
        two = json.loads((folder / f"train.{encoder}.json").read_text())["data"]["history"]
        one = json.loads((tmp_path / "one" / "results" / "smoke" / "seed-0" /
                          f"train.{encoder}.json").read_text())["data"]["history"]
        # float32 sums in another order: the first steps agree closely, later ones drift
        assert two["train"]["total"][0] == pytest.approx(one["train"]["total"][0], rel=1e-5)
        assert two["train"]["total"] == pytest.approx(one["train"]["total"], rel=5e-2)


def test_nox_hands_torchrun_its_options_and_the_study_the_rest(monkeypatch):
    import importlib.util
    import types

    stub = types.ModuleType("nox")           # the study's environment has no nox
    stub.session = lambda f: f
    stub.Session = object
    stub.options = types.SimpleNamespace()
    monkeypatch.setitem(sys.modules, "nox", stub)
    spec = importlib.util.spec_from_file_location("noxfile", ROOT / "noxfile.py")
    noxfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noxfile)
    split_torchrun = noxfile.split_torchrun
    launcher, rest = split_torchrun(["--profile", "full", "--nproc-per-node", "4", "--nnodes=2",
                                     "--rdzv-endpoint", "node0:29500", "--seed", "1"])
    assert launcher == ["--nproc-per-node", "4", "--nnodes=2", "--rdzv-endpoint", "node0:29500"]
    assert rest == ["--profile", "full", "--seed", "1"]


def test_seeds_share_the_gpus_in_turn():
    from vicreg_report.pipeline import seed_devices

    assert seed_devices(4, 2) == ["cuda:0", "cuda:1", "cuda:0", "cuda:1"]
    assert seed_devices(2, 8) == ["cuda:0", "cuda:1"]
    assert seed_devices(3, 1) == [None, None, None] == seed_devices(3, 0)


def test_the_scaling_bench_times_one_and_two_processes(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VICREG_")}
    env.update(PYTHONPATH=str(ROOT / "src"), VICREG_BUILD_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "vicreg_report.bench", "--profile", "smoke",
                          "--processes", "1", "2", "--steps", "2", "--warmup", "1",
                          "--no-progress"], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "bench" / "ddp-smoke-cpu.json").read_text())
    assert [r["processes"] for r in result["rows"]] == [1, 2]
    assert all(r["step_s"] > 0 for r in result["rows"])
    assert result["rows"][0]["step_vs_first"] == 1.0
