"""Shared fixtures: an isolated build folder for every test, the catalogues, one
document built from the sample context for the tests that read outputs, and the
smoke study, computed once for every test file that needs one."""

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from sample_context import make_context, write_figures
from vicreg_report import catalogue, render


@pytest.fixture(autouse=True)
def _isolated_build(tmp_path, monkeypatch):
    """Every test writes under its own build folder, never the user's build/."""
    monkeypatch.setenv("VICREG_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.delenv("VICREG_DATA", raising=False)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def catalogues() -> dict:
    """Every language's catalogue, the reference (English) first."""
    return catalogue.load_all()


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The sample context rendered once into every output: ``ctx``, ``out`` (the
    folder) and ``outputs`` (build_document's result)."""
    out = tmp_path_factory.mktemp("report")
    ctx = make_context()
    write_figures(out, ctx)
    return SimpleNamespace(ctx=ctx, out=out, outputs=render.build_document(ctx, out))


@pytest.fixture(scope="session")
def smoke_study(tmp_path_factory):
    """The smoke study (seed 0), computed once, stage after stage: ``build`` (its build
    folder), ``results`` (its results folder), ``run`` (the Run that computed it, every
    stage recomputed) and ``study``. Read only: a test that changes or adds files works
    on a copy of the build folder (``copy(dest)``)."""
    from vicreg_report import pipeline
    from vicreg_report.config import SMOKE

    build = tmp_path_factory.mktemp("smoke-build")
    mp = pytest.MonkeyPatch()
    mp.setenv("VICREG_BUILD_DIR", str(build))
    try:
        run = pipeline.Run(SMOKE, show_progress=False, workers=1)
        study = pipeline.run_study(run)
        pipeline.save_timings(run)
    finally:
        mp.undo()
    return SimpleNamespace(build=build, results=build / "results" / SMOKE.name / "seed-0",
                           run=run, study=study,
                           copy=lambda dest: Path(shutil.copytree(build, dest)))
