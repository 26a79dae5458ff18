"""Shared fixtures: an isolated build folder for every test, the catalogues, and one
document built from the sample context for the tests that read outputs."""

import os
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
