"""Sessions: report (default), train, evaluate, verify, bench, tests.

All sessions share one environment, ``.nox/study``, built once and rebuilt only
when pyproject.toml or the pins below change. On a machine whose Python
already has torch and the other dependencies (e.g. a GPU box without a package
index), set VICREG_PYTHON to that interpreter and nothing is installed:

    VICREG_PYTHON=$(which python) nox -s train -- --profile full
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import nox

nox.options.sessions = ["report"]
nox.options.default_venv_backend = "none"

ROOT = Path(__file__).parent
ENV = ROOT / ".nox" / "study"
# Exactly these builds lie on the development machines' disk (see DEVELOPERS.md).
TORCH = ["torch==2.14.1", "torchvision==0.29.1"]
LOCAL_WHEELS = Path("/opt/pypi-more/files")


def _env_python(session: nox.Session) -> str:
    """The interpreter to run with: $VICREG_PYTHON, or the shared env (built if stale)."""
    if os.environ.get("VICREG_PYTHON"):
        return os.environ["VICREG_PYTHON"]
    python = ENV / "bin" / "python"
    spec = "\n".join([*TORCH, (ROOT / "pyproject.toml").read_text()])
    stamp = ENV / ".installed"
    wanted = hashlib.sha256(spec.encode()).hexdigest()
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        session.run("python3", "-m", "venv", "--clear", str(ENV), external=True)
        links = ["--find-links", str(LOCAL_WHEELS)] if LOCAL_WHEELS.is_dir() else []
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        session.run(*pip, *links, *TORCH, external=True)
        session.run(*pip, *links, "-e", f"{ROOT}[test]", external=True)
        stamp.write_text(wanted)
    return str(python)


def _study(session: nox.Session, stage: str) -> None:
    python = _env_python(session)
    session.run(python, "-m", "vicreg_report", stage, *session.posargs, external=True,
                env={"PYTHONPATH": str(ROOT / "src")})


@nox.session
def report(session: nox.Session) -> None:
    """Run every missing stage, then render the documents into build/report/<profile>/."""
    _study(session, "report")


# Options that go to torchrun (several processes, DDP) rather than to the study.
TORCHRUN_OPTIONS = ("--nproc-per-node", "--nnodes", "--node-rank", "--rdzv-backend",
                    "--rdzv-endpoint", "--rdzv-id", "--master-addr", "--master-port")


def split_torchrun(args: list[str]) -> tuple[list[str], list[str]]:
    """(torchrun's options, the study's options) of a session's arguments."""
    launcher, rest, i = [], [], 0
    while i < len(args):
        name = args[i].split("=", 1)[0]
        if name in TORCHRUN_OPTIONS:
            takes_next = "=" not in args[i]
            launcher += args[i:i + 1 + takes_next]
            i += 1 + takes_next
        else:
            rest.append(args[i])
            i += 1
    return launcher, rest


@nox.session
def train(session: nox.Session) -> None:
    """Train the encoders (e.g. `nox -s train -- --profile full` on a GPU); with
    `--nproc-per-node N` (and torchrun's other options), N processes train together."""
    launcher, rest = split_torchrun(session.posargs)
    if not launcher:
        return _study(session, "train")
    python = _env_python(session)
    session.run(python, "-m", "torch.distributed.run", *launcher, "-m", "vicreg_report",
                "train", *rest, external=True, env={"PYTHONPATH": str(ROOT / "src")})


@nox.session
def evaluate(session: nox.Session) -> None:
    """Train if needed, then run the evaluations."""
    _study(session, "evaluate")


@nox.session
def verify(session: nox.Session) -> None:
    """Rerun the quick profile from nothing and compare every metric with the committed
    reference (a table; non-zero exit on any failure). `-- --reuse` keeps fresh results,
    `-- --profile full` checks the full profile against the original write-up."""
    _study(session, "verify")


@nox.session
def bench(session: nox.Session) -> None:
    """Training throughput of the per-image and the batched augmentation, peak memory and
    the study's stage times, on whatever device is present; JSON under build/bench/."""
    python = _env_python(session)
    session.run(python, "-m", "vicreg_report.bench", *session.posargs, external=True,
                env={"PYTHONPATH": str(ROOT / "src")})


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (pytest); extra arguments go to pytest."""
    python = _env_python(session)
    session.run(python, "-m", "pytest", *session.posargs, external=True,
                env={"PYTHONPATH": str(ROOT / "src")})
