"""Stage keys: a result is reused only while everything that determined it is unchanged.

A stage's key hashes its name, the profile's configuration, the data
fingerprint, the keys of the stages it reads, the source of the modules it
runs and the versions of the libraries that matter. The key is saved in the
result's provenance; a different key means the result is stale.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import metadata
from pathlib import Path

PACKAGE_DIR = Path(__file__).parent
LIBRARIES = ("torch", "torchvision", "numpy", "scikit-learn", "faiss-cpu", "openTSNE")

# Which of the project's modules each stage runs (besides config and results).
STAGE_MODULES = {
    "train": ("training", "model", "losses", "augment", "data"),
    "representations": ("representations", "model", "augment", "anomaly"),
    "probe": ("probe",),
    "embedding2d": ("embedding2d",),
    "laplacian": ("laplacian", "probe"),
    "retrieval": ("retrieval", "neighbours"),
    "anomaly": ("anomaly", "neighbours"),
    "clustering": ("clustering", "embedding2d"),
}


@lru_cache(maxsize=None)
def module_hash(name: str) -> str:
    return hashlib.sha256((PACKAGE_DIR / f"{name}.py").read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def library_versions() -> tuple[str, ...]:
    versions = []
    for lib in LIBRARIES:
        try:
            versions.append(f"{lib}={metadata.version(lib)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{lib}=absent")
    return tuple(versions)


def stage_key(stage: str, config_hash: str, data_fingerprint: str, *inputs: str,
              extra: str = "") -> str:
    """The content hash that decides whether ``stage``'s saved result is fresh."""
    kind = stage.split(":")[0]
    parts = [stage, config_hash, data_fingerprint, extra, *inputs, *library_versions(),
             *(module_hash(m) for m in ("config", *STAGE_MODULES.get(kind, ())))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]
