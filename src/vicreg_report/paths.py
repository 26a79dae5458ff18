"""Where things live: the repository root and the build folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def build_dir() -> Path:
    """``build/`` at the repository root, or $VICREG_BUILD_DIR."""
    return Path(os.environ.get("VICREG_BUILD_DIR", REPO_ROOT / "build"))
