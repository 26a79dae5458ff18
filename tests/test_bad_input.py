"""The bad-input suite: each thing a user can get wrong, through the command line as they
would meet it. Each case asserts the exit status, a message that names the file and the
problem, no traceback, and that nothing saved before was changed or lost. Training
stopped by a signal resumes bit-identical; a loss that is not finite stops it.

Import of a damaged shipment from a GPU slot: tests/test_shipment.py.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vicreg_report import data, pipeline, training
from vicreg_report.config import SMOKE
from vicreg_report.errors import VicregError

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, build: Path, timeout=600, **extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VICREG_")}
    env.update(PYTHONPATH=str(ROOT / "src"), VICREG_BUILD_DIR=str(build), **extra)
    return subprocess.run([sys.executable, "-m", "vicreg_report", *args, "--no-progress"],
                          capture_output=True, text=True, env=env, timeout=timeout)


def failed(out: subprocess.CompletedProcess, *phrases: str) -> str:
    """The error message, after checking the exit status and that it is not a traceback."""
    text = out.stdout + out.stderr
    assert out.returncode == 2, text
    assert "Traceback" not in text, text
    for phrase in phrases:
        assert phrase in " ".join(text.split()), (phrase, text)
    return text


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def results(smoke_study, tmp_path) -> tuple[Path, Path]:
    """A copy of the smoke study's build folder and its results folder, free to damage."""
    build = smoke_study.copy(tmp_path / "build")
    return build, build / "results" / "smoke" / "seed-0"


# ---------------------------------------------------------------- data

def cifar_zip(path: Path, drop_class: str | None = None, bad_image: str | None = None) -> Path:
    """A small image-folder zip with CIFAR-10's classes (one image a class and split)."""
    def png(shape, mode="RGB"):
        buf = __import__("io").BytesIO()
        Image.fromarray(np.full(shape, 90, np.uint8), mode=mode).save(buf, format="PNG")
        return buf.getvalue()

    with zipfile.ZipFile(path, "w") as z:
        for split in ("train", "test"):
            for cls in data.CIFAR_CLASSES:
                if cls == drop_class and split == "train":
                    continue
                name = f"cifar/{split}/{cls}/0000.png"
                z.writestr(name, png((64, 64, 3)) if name == bad_image else png((32, 32, 3)))
    return path


def mnist_beside(folder: Path) -> None:
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    header = lambda *shape: bytes([0, 0, 8, len(shape)]) + b"".join(  # noqa: E731
        d.to_bytes(4, "big") for d in shape)
    (raw / "t10k-images-idx3-ubyte").write_bytes(header(3, 28, 28) + bytes(3 * 784))
    (raw / "t10k-labels-idx1-ubyte").write_bytes(header(3) + bytes(3))


def test_a_zip_with_a_class_missing_is_refused_before_training(tmp_path):
    (tmp_path / "data").mkdir()
    source = cifar_zip(tmp_path / "data" / "mine.zip", drop_class="truck")
    mnist_beside(tmp_path / "data")
    out = cli("train", "--profile", "quick", "--data", str(tmp_path / "data"),
              build=tmp_path / "build")
    failed(out, str(source), "train/ holds 9 class folders", "missing: truck")
    written = [p.name for p in (tmp_path / "build").rglob("*") if p.is_file()]
    assert set(written) <= {".lock"}, written                   # nothing trained or cached


def test_an_image_of_the_wrong_size_is_named(tmp_path):
    (tmp_path / "data").mkdir()
    cifar_zip(tmp_path / "data" / "mine.zip", bad_image="cifar/test/cat/0000.png")
    mnist_beside(tmp_path / "data")
    out = cli("prepare", "--profile", "quick", "--data", str(tmp_path / "data"),
              build=tmp_path / "build")
    failed(out, "cifar/test/cat/0000.png", "is 64x64 RGB", "32x32 RGB")


def test_a_data_path_that_does_not_exist_says_so(tmp_path):
    out = cli("prepare", "--profile", "quick", "--data", str(tmp_path / "nowhere"),
              build=tmp_path / "build")
    failed(out, f"The data path {tmp_path / 'nowhere'} (--data) does not exist")


def test_a_corrupt_zip_in_a_data_folder_is_named(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "cifar.zip").write_bytes(b"PK\x03\x04 cut short")
    mnist_beside(tmp_path / "data")
    out = cli("prepare", "--profile", "quick", "--data", str(tmp_path / "data"),
              build=tmp_path / "build")
    failed(out, "Found but not usable", "cifar.zip: not a readable zip file")


# ---------------------------------------------------------------- saved results

def test_an_edited_result_is_refused_when_only_saved_results_are_shown(results):
    build, folder = results
    path = folder / "probe.q1.json"
    doc = json.loads(path.read_text())
    doc["data"]["test_acc"] = 0.95
    path.write_text(json.dumps(doc))
    before = snapshot(folder)
    out = cli("evaluate", "--profile", "smoke", "--saved-only", build=build)
    failed(out, "probe.q1.json was changed after the run wrote it")
    assert snapshot(folder) == before


def test_an_edited_result_is_recomputed_when_the_study_runs(results):
    build, folder = results
    path = folder / "anomaly.q5.json"
    path.write_text(path.read_text().replace('"k": 2', '"k": 1'))
    out = cli("evaluate", "--profile", "smoke", build=build)
    assert out.returncode == 0, out.stderr
    assert "anomaly:q5: saved result unusable:" in out.stderr
    assert "anomaly.q5.json was changed after the run wrote it" in out.stderr
    assert json.loads(path.read_text())["data"]["k"] == 2


def test_nan_in_a_result_names_the_file_and_the_field(results):
    build, folder = results
    path = folder / "clustering.q1.json"
    text = path.read_text()
    start = text.index('"silhouette": ') + len('"silhouette": ')
    path.write_text(text[:start] + "NaN" + text[text.index(",", start):])
    failed(cli("evaluate", "--profile", "smoke", "--saved-only", build=build),
           "clustering.q1.json holds a value that is not a finite number, at data.silhouette")
    failed(cli("verify", "--profile", "smoke", "--saved-only", build=build),
           "clustering.q1.json holds a value that is not a finite number")


def test_an_array_file_changed_after_the_run_is_refused(results):
    build, folder = results
    path = folder / "embedding2d.q1.npz"
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["tsne"] = arrays["tsne"] + 1
    np.savez(path, **arrays)
    failed(cli("evaluate", "--profile", "smoke", "--saved-only", build=build),
           "embedding2d.q1.npz was changed after the run wrote it")


def test_a_result_copied_from_another_seed_is_refused(results):
    build, folder = results
    other = folder.parent / "seed-1"
    shutil.copytree(folder, other)
    failed(cli("evaluate", "--profile", "smoke", "--seed", "1", "--saved-only", build=build),
           "was computed for profile 'smoke', seed 0, not for this folder's 'smoke', seed 1")


# ---------------------------------------------------------------- where results go

def test_a_build_folder_that_is_a_file_is_reported_before_training(tmp_path):
    (tmp_path / "build").write_text("not a folder")
    out = cli("evaluate", "--profile", "smoke", build=tmp_path / "build")
    failed(out, f"{tmp_path / 'build'} is a file, not a folder", "VICREG_BUILD_DIR")
    assert (tmp_path / "build").read_text() == "not a folder"


def test_results_and_documents_get_normal_permissions(smoke_study):
    folder = smoke_study.results
    modes = {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir() if p.is_file()
             and p.name != ".lock"}
    assert set(modes.values()) == {0o644}, modes


def test_a_second_run_waits_for_the_first_and_reuses_its_results(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VICREG_")}
    env.update(PYTHONPATH=str(ROOT / "src"), VICREG_BUILD_DIR=str(tmp_path / "build"))
    command = [sys.executable, "-m", "vicreg_report", "evaluate", "--profile", "smoke",
               "--no-progress"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    lock = tmp_path / "build" / "results" / "smoke" / "seed-0" / ".lock"
    while not (lock.exists() and lock.read_text().startswith("pid")):
        assert first.poll() is None
        time.sleep(0.01)
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    first_err = first.communicate(timeout=600)[1]
    assert first.returncode == 0 and second.returncode == 0, first_err + second.stderr
    assert "is in use by a run" in second.stderr and "waiting for it to finish" in second.stderr
    assert "recomputed" not in second.stderr and "recomputed train:q1" in first_err


# ---------------------------------------------------------------- training stopped, or diverging

SCRIPT = """
import sys
from vicreg_report import pipeline
from vicreg_report.config import SMOKE
run = pipeline.Run(SMOKE.replace(epochs=6, train_images=1024), show_progress=False, workers=1,
                   results=sys.argv[1])
pipeline.train(run, pipeline.prepare(run), "q1")
"""


def train_in(folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    # SIGINT as in a terminal, even where this suite runs in a background job (ignored)
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(folder)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def stop_after_first_epoch(folder: Path, sig: int) -> None:
    proc = train_in(folder)
    resume = folder / "q1.resume.pt"
    while not resume.exists():
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.002)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert not (folder / "train.q1.json").exists()       # it was stopped before the end


def saved(folder: Path) -> tuple[dict, dict]:
    doc = json.loads((folder / "train.q1.json").read_text())
    weights = torch.load(folder / "q1.pt", weights_only=True)["state_dict"]
    return doc["data"]["history"], weights


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    proc = train_in(folder)
    assert proc.wait(timeout=300) == 0, proc.stdout.read()
    return saved(folder)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_stopped_run_resumes_and_ends_bit_identical(tmp_path, uninterrupted, sig):
    stop_after_first_epoch(tmp_path, sig)
    state = torch.load(tmp_path / "q1.resume.pt", weights_only=True)
    assert 1 <= state["epochs_done"] < 6
    again = train_in(tmp_path)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    assert f"resuming after epoch {state['epochs_done']} of 6" in out
    history, weights = saved(tmp_path)
    assert history == uninterrupted[0]
    assert weights.keys() == uninterrupted[1].keys()
    assert all(torch.equal(weights[k], uninterrupted[1][k]) for k in weights)
    assert not (tmp_path / "q1.resume.pt").exists()      # removed once the result is saved


def test_a_state_of_another_configuration_is_not_resumed(tmp_path, monkeypatch):
    monkeypatch.setenv("VICREG_BUILD_DIR", str(tmp_path))
    run = pipeline.Run(SMOKE, show_progress=False, workers=1)
    d = pipeline.prepare(run)
    run.results_dir.mkdir(parents=True)
    torch.save({"version": training.RESUME_VERSION, "key": "other", "epochs_done": 1},
               run.results_dir / "q1.resume.pt")
    result = pipeline.train(run, d, "q1")
    assert len(result.history.test["total"]) == SMOKE.epochs        # trained from epoch 0


# Smoke: 4 training steps an epoch, then 2 test batches; the loss is computed once each.
@pytest.mark.parametrize("bad_call, term, message", [
    (7, "invariance", r"the invariance loss term is nan at epoch 2, step 1 of 4; the state "
                      r"after epoch 1 is kept"),
    (11, "covariance", r"the covariance loss term on the test set is inf after epoch 2 "
                       r"\(test batch 1\); the state after epoch 1 is kept"),
])
def test_a_loss_that_is_not_finite_stops_training_and_keeps_the_last_good_epoch(
        tmp_path, monkeypatch, bad_call, term, message):
    monkeypatch.setenv("VICREG_BUILD_DIR", str(tmp_path))
    real = training.vicreg_loss
    calls = {"n": 0}

    def fails_once(*args, **kwargs):
        terms = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] != bad_call:
            return terms
        bad = getattr(terms, term) * float("nan" if term == "invariance" else "inf")
        return training.LossTerms(**{**vars(terms), term: bad, "total": terms.total + bad})

    monkeypatch.setattr(training, "vicreg_loss", fails_once)
    run = pipeline.Run(SMOKE, show_progress=False, workers=1)
    d = pipeline.prepare(run)
    with pytest.raises(VicregError, match=message):
        pipeline.train(run, d, "q1")
    assert not (run.results_dir / "train.q1.json").exists()   # nothing downstream reads it
    assert torch.load(run.results_dir / "q1.resume.pt", weights_only=True)["epochs_done"] == 1
