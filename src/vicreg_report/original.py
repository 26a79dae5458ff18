"""The original write-up's figures, read from the project's one data file."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

ORIGINAL_FILE = Path(__file__).with_name("original.json")


@lru_cache(maxsize=1)
def original() -> dict:
    return json.loads(ORIGINAL_FILE.read_text())
