import os
import subprocess
import sys
from pathlib import Path

import pytest

from vicreg_report.cli import STAGES, main

SRC = str(Path(__file__).resolve().parents[1] / "src")


def run_cli(*args, env_extra=None):
    env = {**os.environ, "PYTHONPATH": SRC, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "vicreg_report", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_help_lists_every_stage():
    out = run_cli("--help")
    assert out.returncode == 0
    for stage in STAGES:
        assert stage in out.stdout
    train_help = run_cli("train", "--help").stdout
    for option in ("--profile", "--data", "--download", "--device", "--force"):
        assert option in train_help


def test_missing_data_is_one_clear_message_without_traceback(tmp_path):
    (tmp_path / "nothing-here").mkdir()
    out = run_cli("prepare", "--data", str(tmp_path / "nothing-here"),
                  env_extra={"VICREG_BUILD_DIR": str(tmp_path / "build")})
    assert out.returncode == 2
    assert "No CIFAR-10 and MNIST test data found" in out.stderr
    assert str(tmp_path / "nothing-here") in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_unknown_profile_is_rejected_by_the_parser(capsys):
    try:
        main(["train", "--profile", "huge"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "argument --workers: must be at least 1"),
    (["--workers", "two"], "argument --workers: 'two' is not a whole number"),
    (["--seed", "0", "-1"], "argument --seed: must not be negative"),
])
def test_counts_and_seeds_out_of_range_are_rejected_by_the_parser(capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--profile", "smoke", *args])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
