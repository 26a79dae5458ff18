"""Where things live: the repository root, the document's sources and the build folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The structure template, the landing page and the catalogues (lang/<lang>.toml).
TEMPLATES_DIR = REPO_ROOT / "templates"
# The Quarto project copied beside the generated sources (filters, styles, typst template).
REPORT_DIR = REPO_ROOT / "report"


def build_dir() -> Path:
    """``build/`` at the repository root, or $VICREG_BUILD_DIR."""
    return Path(os.environ.get("VICREG_BUILD_DIR", REPO_ROOT / "build"))
