"""Results computed on another machine: packed there, checked and unpacked here.

A GPU machine that lends a short slot returns at most 8 files of 16 MiB each.
``pack`` puts one run's results (every JSON and array file, without the
checkpoints and the large representation arrays, which rendering does not
read) into one ``results.tar.gz`` beside the run's timings, its benchmark and
whatever else the caller names. ``unpack`` reads such a folder (or the archive
itself), checks every file (format, schema, profile and seed, arrays belonging
to their result) and replaces a results folder with it in one step.

    python -m vicreg_report.shipment pack RESULTS_DIR OUT [EXTRA ...]
    python -m vicreg_report import-results PATH --profile full [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from .errors import VicregError
from .paths import REPO_ROOT

ARCHIVE = "results.tar.gz"
MAX_FILE_BYTES = 16 * 2 ** 20          # what one returned file may weigh
MAX_FILES = 8
LEFT_BEHIND = ("reps.*.npz", "*.pt")   # large, and not read when rendering


def _result_types() -> dict[str, type]:
    from .anomaly import AnomalyResult
    from .clustering import ClusteringResult
    from .comparisons import ComparisonsResult
    from .embedding2d import Embedding2DResult
    from .laplacian import LaplacianResult, SplitProbeResult
    from .representations import RepresentationsResult
    from .probe import ProbeResult
    from .results import TrainResult
    from .retrieval import RetrievalSummary

    types = (TrainResult, RepresentationsResult, ProbeResult, Embedding2DResult,
             LaplacianResult, SplitProbeResult, RetrievalSummary, AnomalyResult,
             ClusteringResult, ComparisonsResult)
    return {t.__name__: t for t in types}


def packed_files(results_dir: Path) -> list[Path]:
    """The result files of a run that travel: JSON and arrays, not checkpoints or reps."""
    keep = [p for p in sorted(Path(results_dir).iterdir())
            if p.is_file() and p.suffix in (".json", ".npz")]
    return [p for p in keep if not any(p.match(pattern) for pattern in LEFT_BEHIND)]


def pack(results_dir: Path, out: Path, extras: list[Path] = ()) -> list[Path]:
    """``results.tar.gz`` of ``results_dir`` and a copy of each existing extra, in ``out``;
    an error, before anything is written, if they would break the return limits."""
    results_dir, out = Path(results_dir), Path(out)
    extras = [Path(e) for e in extras if Path(e).is_file()]
    there = {p.name for p in out.iterdir() if p.is_file()} if out.is_dir() else set()
    names = there | {ARCHIVE} | {e.name for e in extras}
    if len(names) > MAX_FILES:
        raise VicregError(f"{len(names)} files would come back ({', '.join(sorted(names))}); "
                          f"at most {MAX_FILES} do.")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in packed_files(results_dir) if results_dir.is_dir() else []:
            tar.add(path, arcname=path.name)
    too_big = [(p.name, p.stat().st_size) for p in extras if p.stat().st_size > MAX_FILE_BYTES]
    if len(buf.getvalue()) > MAX_FILE_BYTES:
        too_big.append((ARCHIVE, len(buf.getvalue())))
    if too_big:
        raise VicregError("Over the 16 MiB a returned file may weigh: " + ", ".join(
            f"{name} ({size / 2 ** 20:.1f} MiB)" for name, size in too_big))
    out.mkdir(parents=True, exist_ok=True)
    (out / ARCHIVE).write_bytes(buf.getvalue())
    written = [out / ARCHIVE]
    for extra in extras:
        if extra.resolve() != (out / extra.name).resolve():
            shutil.copyfile(extra, out / extra.name)
        written.append(out / extra.name)
    return written


# ---------------------------------------------------------------- home

def _members(archive: Path) -> dict[str, bytes]:
    """Every file of the archive (plain names only; anything else is refused)."""
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            files = {}
            for member in tar.getmembers():
                if not member.isfile() or "/" in member.name or member.name.startswith("."):
                    raise VicregError(f"{archive} holds {member.name!r}, which is not a plain "
                                      "result file; pack the results with scripts/device_full.sh.")
                files[member.name] = tar.extractfile(member).read()
            return files
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise VicregError(f"{archive} is not a readable results archive ({exc}); fetch "
                          "the files again.") from None


def _provenance(path: Path, types: dict[str, type]):
    """The provenance of the result in ``path``, read as the type it names."""
    from .results import ResultError, load_record, load_result

    try:
        kind = json.loads(path.read_text()).get("type")
    except (ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise ResultError(f"{path.name} is not a result file ({exc})") from None
    if kind not in types:
        raise ResultError(f"{path.name} holds an unknown result type {kind!r}")
    if "provenance" in types[kind].__dataclass_fields__:
        return load_result(path, types[kind]).provenance
    return load_record(path, types[kind]).provenance


def check(folder: Path, profile: str, seed: int) -> list[str]:
    """Every result in ``folder`` read as its type, of ``profile`` and ``seed``, arrays
    belonging to their result, the headline metrics all there; the problems found."""
    from .metrics import read_metrics
    from .results import ResultError
    from .stages import INDEX, check_written, load_arrays

    types, problems, keys = _result_types(), [], {}
    for path in sorted(folder.iterdir()):
        try:
            check_written(path)
        except VicregError as exc:
            problems.append(str(exc))
    for path in sorted(folder.glob("*.json")):
        if path.name in ("timings.json", INDEX):
            continue
        try:
            prov = _provenance(path, types)
        except ResultError as exc:
            problems.append(f"{path.name}: {str(exc).split('. Delete')[0]}")
            continue
        if (prov.profile, prov.seed) != (profile, seed):
            problems.append(f"{path.name}: computed for profile {prov.profile!r}, seed "
                            f"{prov.seed}; expected {profile!r}, seed {seed}")
        keys[path.stem] = prov.stage_key
    for path in sorted(folder.glob("*.npz")):
        try:
            _, key = load_arrays(path)
        except ResultError as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        if keys.get(path.stem) != key:
            problems.append(f"{path.name}: its arrays belong to no result of this folder")
    try:
        read_metrics(folder)
    except VicregError as exc:
        problems.append(f"incomplete: {exc}")
    return problems


def unpack(source: Path, into: Path, profile: str, seed: int) -> list[str]:
    """Check the results in ``source`` (a folder returned by the GPU machine, or its
    archive) and make ``into`` hold exactly them; nothing changes if a check fails.
    Returns the names of the files written."""
    source = Path(source)
    archive = source / ARCHIVE if source.is_dir() else source
    if not archive.is_file():
        raise VicregError(f"No {ARCHIVE} in {source}. Point at the folder the GPU run's "
                          f"files were fetched into, or at the archive itself.")
    into = Path(into)
    into.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=into.parent, prefix=f".{into.name}."))
    try:
        for name, payload in _members(archive).items():
            (staging / name).write_bytes(payload)
        problems = check(staging, profile, seed)
        if problems:
            raise VicregError(f"{archive} cannot be imported:\n  " + "\n  ".join(problems))
        for path in staging.iterdir():
            os.chmod(path, 0o644)
        os.chmod(staging, 0o755)
        old = into.with_name(f".{into.name}.old")
        if into.exists():
            os.replace(into, old)
        os.replace(staging, into)
        shutil.rmtree(old, ignore_errors=True)
        return sorted(p.name for p in into.iterdir())
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def default_target(profile: str, seed: int) -> Path:
    """Where committed results of ``profile`` live: results/<profile>/seed-<seed>/."""
    return REPO_ROOT / "results" / profile / f"seed-{seed}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vicreg_report.shipment",
                                 description="Pack a run's results for the trip back.")
    sub = ap.add_subparsers(dest="verb", required=True)
    pk = sub.add_parser("pack", help="results.tar.gz and the extras into OUT")
    pk.add_argument("results_dir", type=Path)
    pk.add_argument("out", type=Path)
    pk.add_argument("extras", type=Path, nargs="*")
    args = ap.parse_args(argv)
    try:
        for path in pack(args.results_dir, args.out, args.extras):
            print(f"{path.stat().st_size / 2 ** 20:8.2f} MiB  {path.name}")
    except VicregError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
