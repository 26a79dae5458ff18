"""The project's dependencies except torch and torchvision, read from pyproject.toml.

    python scripts/deps.py             one requirement per line
    python scripts/deps.py --missing   only those this Python lacks (or has too old)

Used by fetch_wheels.sh (what to download) and full_gpu.sh (what to install).
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
PREINSTALLED = {"torch", "torchvision"}     # the GPU machine brings its own CUDA builds
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:>=\s*([0-9][0-9.]*))?")


def requirements() -> list[str]:
    """The ``[project] dependencies`` strings (tomllib when there is one, else a plain scan)."""
    text = PYPROJECT.read_text()
    try:
        import tomllib
    except ModuleNotFoundError:                # Python 3.10
        block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.S | re.M)
        return re.findall(r'"([^"]+)"', block.group(1)) if block else []
    return list(tomllib.loads(text)["project"]["dependencies"])


def name_and_minimum(requirement: str) -> tuple[str, str | None]:
    match = REQUIREMENT.match(requirement)
    if not match:
        sys.exit(f"deps.py: cannot read the requirement {requirement!r} in {PYPROJECT}")
    return match.group(1), match.group(2)


def release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def satisfied(requirement: str) -> bool:
    name, minimum = name_and_minimum(requirement)
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return minimum is None or release(installed) >= release(minimum)


def main(argv: list[str]) -> int:
    wanted = [r for r in requirements() if name_and_minimum(r)[0].lower() not in PREINSTALLED]
    if argv[1:] == ["--missing"]:
        wanted = [r for r in wanted if not satisfied(r)]
    elif argv[1:]:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if wanted:
        print("\n".join(wanted))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
