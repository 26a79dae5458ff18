"""The GPU slot rehearsed on a CPU (issue 11): scripts/device_full.sh on the smoke
profile, in a copy of the tree laid out as it travels to the GPU machine (with the
shipped folder .device/), faiss and openTSNE blocked as they are missing there
(openTSNE then comes from the shipped wheel); then import-results and rendering
from the files that came back, as on a machine without a GPU."""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MiB = 2 ** 20


def travelling_files() -> list[str]:
    """What the device tool copies: tracked files and untracked ones git does not ignore."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout
    return [n for n in out.decode().split("\0") if n and (ROOT / n).is_file()]


@pytest.fixture(scope="module")
def slot(tmp_path_factory):
    import openTSNE

    base = tmp_path_factory.mktemp("slot")
    tree = base / "tree"
    for name in travelling_files():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    ship = tree / ".device"
    ship.mkdir()
    package = Path(openTSNE.__file__).parent   # a wheel of the installed openTSNE, for this Python
    with zipfile.ZipFile(ship / "opentsne-0-rehearsal.whl", "w") as whl:
        for path in package.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                whl.write(path, Path("openTSNE") / path.relative_to(package))
    blocked = base / "blocked"               # missing on the GPU machine
    for name in ("faiss", "openTSNE"):
        (blocked / name).mkdir(parents=True)
        (blocked / name / "__init__.py").write_text(
            f"raise ImportError('{name} is not installed on the GPU machine')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VICREG_")}
    env.update(PYTHONPATH=str(blocked), PYTHON=sys.executable, VICREG_COMMIT="rehearsal")
    return base, tree, env


def device_run(slot, out: str, limit: int) -> subprocess.CompletedProcess:
    base, tree, env = slot
    return subprocess.run(["bash", "scripts/device_full.sh", "--profile", "smoke", "--limit",
                           str(limit)], cwd=tree, env={**env, "OUT": str(base / out)},
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def interrupted(slot):
    """The first command, with at most 3 s for the study: it cannot finish."""
    return device_run(slot, "out-interrupted", 28)


@pytest.fixture(scope="module")
def completed(slot, interrupted):
    return device_run(slot, "out", 400)


def test_a_run_stopped_at_its_limit_packs_and_says_to_run_again(slot, interrupted):
    assert interrupted.returncode == 3, interrupted.stderr
    assert "Run the same command again to continue" in interrupted.stderr
    assert (slot[0] / "out-interrupted" / "results.tar.gz").is_file()


def test_the_slot_run_completes_without_faiss_and_returns_few_small_files(slot, completed):
    assert completed.returncode == 0, completed.stderr + completed.stdout
    out = slot[0] / "out"
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8 and all(p.is_file() for p in out.iterdir())
    assert {"results.tar.gz", "timings.json", "smoke-cpu.json", "nvidia-smi.txt",
            "run.log", "run-times.tsv"} <= set(files)
    assert all(p.stat().st_size <= 16 * MiB for p in out.iterdir())
    with tarfile.open(out / "results.tar.gz") as tar:
        names = tar.getnames()
        probe = json.load(tar.extractfile("probe.q1.json"))
    assert "reps.q1.json" in names and not [n for n in names if n.endswith((".pt",))]
    assert not [n for n in names if n.startswith("reps.") and n.endswith(".npz")]
    assert probe["provenance"]["libraries"]["kNN"] == "torch"      # faiss was blocked
    assert probe["provenance"]["commit"] == "rehearsal"
    assert (slot[1] / "build" / "device" / "site" / "openTSNE").is_dir()  # from the wheel
    assert json.loads((out / "smoke-cpu.json").read_text())["ratio_batched_over_reference"] > 0


def test_a_second_command_continues_from_the_stage_cache(slot, completed):
    again = device_run(slot, "out-again", 400)
    assert again.returncode == 0, again.stderr
    log = (slot[0] / "out-again" / "run.log").read_text()
    assert "recomputed" not in log and log.count("reused") >= 25


def test_import_then_render_without_recomputing(slot, completed):
    base, _, _ = slot
    into = base / "imported"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VICREG_")}
    env.update(PYTHONPATH=str(ROOT / "src"), VICREG_BUILD_DIR=str(base / "home"))
    cli = [sys.executable, "-m", "vicreg_report"]
    imported = subprocess.run([*cli, "import-results", str(base / "out"), "--profile", "smoke",
                               "--into", str(into)], env=env, capture_output=True, text=True)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert (into / "anomaly.q1.json").is_file() and (into / "timings.json").is_file()
    rendered = subprocess.run([*cli, "report", "--profile", "smoke", "--saved-only", "--results",
                               str(into), "--no-progress"], env=env, capture_output=True,
                              text=True, timeout=600)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    assert "stale" not in rendered.stderr and "recomputed" not in rendered.stderr
    report = base / "home" / "report" / "smoke"
    for name in ("vicreg-report.en.pdf", "vicreg-report.he.pdf", "vicreg-report.en.html"):
        assert (report / name).stat().st_size > 10_000
