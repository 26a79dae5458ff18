"""Command line: ``python -m vicreg_report STAGE [options]``."""

from __future__ import annotations

import argparse
import signal
import sys
from contextlib import ExitStack

from rich.markup import escape

from . import distributed, experiments, pipeline
from .config import DEFAULT_PROFILE, PROFILES, get_profile
from .errors import VicregError
from .paths import REPO_ROOT, build_dir
from .progress import console
from .stages import STAGE_THREADS, check_writable, exclusive

STAGES = {
    "prepare": "find, check and cache the data (CIFAR-10 train/test, MNIST test)",
    "train": "train the encoders Q1, Q4 (mu = 0) and Q5 (neighbour pairs) unless fresh",
    "evaluate": "train if needed, then every experiment: probes, maps, Q6, retrieval, "
                "anomalies, clustering",
    "report": "run whatever is missing or stale, then write the PDF and HTML documents",
    "verify": "rerun the profile from nothing and compare every metric with the committed "
              "reference; exit 1 on any failure",
    "evidence": "from saved runs of several seeds, write the evidence file and the "
                "reference tolerances (reference/<profile>.json)",
    "import-results": "check the results a GPU run sent back (scripts/device_full.sh) and "
                      "make results/<profile>/seed-<N>/ hold them",
}
# Free space a run needs where it writes (data cache, results, checkpoints), in MiB.
NEEDED_MIB = {"smoke": 20, "quick": 500, "full": 1500}
FORCEABLE = ("all", *experiments.stage_kinds())


def positive(text: str) -> int:
    """A command-line whole number of at least 1 (else argparse's usage error)."""
    value = non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative(text: str) -> int:
    """A command-line whole number of at least 0 (else argparse's usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m vicreg_report",
        description="Reproducible bilingual report of a VICReg study on CIFAR-10.")
    sub = ap.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for stage, help_text in STAGES.items():
        sp = sub.add_parser(stage, help=help_text, description=help_text)
        sp.add_argument("--profile", default=DEFAULT_PROFILE, choices=list(PROFILES),
                        help=f"smoke (seconds), quick (CPU, minutes), full (GPU); "
                             f"default {DEFAULT_PROFILE}")
        sp.add_argument("--data", metavar="PATH",
                        help="data folder or zip (default: $VICREG_DATA, then ../shared/data, "
                             "./data, ~/.cache/vicreg_report/data)")
        sp.add_argument("--download", action="store_true",
                        help="download CIFAR-10 and MNIST with torchvision into --data "
                             "(or ~/.cache/vicreg_report/data); needs internet")
        sp.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
        sp.add_argument("--force", nargs="?", const="all", action="append", default=[],
                        choices=FORCEABLE, metavar="STAGE",
                        help="recompute every stage, or only STAGE (one of "
                             f"{', '.join(FORCEABLE[1:])}; repeatable)")
        sp.add_argument("--seed", type=non_negative, nargs="+", metavar="N",
                        help="seed(s) to run; several give mean ± std in the document "
                             "(default: the profile's, 0)")
        sp.add_argument("--saved-only", action="store_true",
                        help="compute nothing: use the saved results, marking stale ones")
        sp.add_argument("--results", metavar="DIR",
                        help="read and write one run's results here instead of "
                             "build/results/<profile>/seed-<N>/")
        sp.add_argument("--workers", type=positive, metavar="N",
                        help="stages computed side by side, each with "
                             f"{STAGE_THREADS} threads (default: cores // {STAGE_THREADS})")
        sp.add_argument("--no-progress", action="store_true", help="hide progress bars")
        if stage == "verify":
            sp.add_argument("--reuse", action="store_true",
                            help="keep fresh saved results instead of recomputing everything")
        if stage == "import-results":
            sp.add_argument("path", metavar="PATH",
                            help="the folder the GPU run's files were fetched into, or its "
                                 "results.tar.gz")
            sp.add_argument("--into", metavar="DIR",
                            help="results folder to fill (default results/<profile>/seed-<N>/)")
        if stage == "evidence":
            sp.add_argument("--rerun", metavar="DIR",
                            help="results folder of a second run of the first seed, to record "
                                 "whether a same-seed rerun is bit-identical")
    return ap


def make_run(args) -> tuple[pipeline.Run, list[int]]:
    profile = get_profile(args.profile)
    seeds = list(dict.fromkeys(args.seed or [profile.seed]))
    if args.saved_only and args.force:
        raise VicregError("--saved-only computes nothing, so it cannot be combined with --force.")
    run = pipeline.Run(profile.replace(seed=seeds[0]), data=args.data, download=args.download,
                       device=args.device, force=frozenset(args.force),
                       show_progress=not args.no_progress, saved_only=args.saved_only,
                       results=args.results, workers=args.workers)
    if profile.name == "full" and args.device == "auto" and run.torch_device.type == "cpu":
        full_without_gpu(run, args.stage)
    return run, seeds


def full_without_gpu(run: pipeline.Run, stage: str) -> None:
    """The full profile trains ResNet-18 for 30 epochs: on a CPU only its committed results
    are rendered (unless the user insists with --device cpu)."""
    committed = REPO_ROOT / "results" / "full" / f"seed-{run.profile.seed}"
    if stage != "report" or not committed.is_dir():
        raise VicregError(
            "The full profile needs a GPU (ResNet-18, 50,000 images, 30 epochs; days on a "
            "CPU) and no committed full-profile results were found in "
            f"{committed}. Run scripts/device_full.sh in a GPU slot and bring its results "
            "home with `python -m vicreg_report import-results` (scripts/README.md), or "
            "pass --device cpu to compute on this CPU anyway.")
    console.print(f"[yellow]no GPU: rendering the committed full-profile results in "
                  f"{committed} (stale ones are marked)")
    run.saved_only = True
    run.results = run.results or committed


class VerifyFailed(Exception):
    pass


def run_verify(run: pipeline.Run) -> None:
    from .evidence import training_numerics
    from .metrics import read_metrics
    from .verify import verify

    if not run.saved_only:
        pipeline.run_study(run)
    if not verify(read_metrics(run.results_dir), run.profile.name,
                  training_numerics(run.results_dir)):
        raise VerifyFailed


def run_evidence(run: pipeline.Run, seeds: list[int], rerun: str | None) -> None:
    from pathlib import Path

    from . import evidence

    dirs = {s: pipeline.for_seed(run, s).results_dir for s in seeds}
    ev = evidence.collect(run.profile.name, dirs, Path(rerun) if rerun else None)
    for path in evidence.write(ev):
        console.print(f"wrote {path}")
    same = ev["same_seed_rerun"]
    if same is not None:
        console.print(f"same-seed rerun: {'bit-identical' if same['identical'] else 'differs'} "
                      f"({same['files_compared']} files; differing: {same['differing']})")


def import_results(args) -> None:
    from .shipment import default_target, unpack

    seeds = args.seed or [get_profile(args.profile).seed]
    if len(seeds) != 1:
        raise VicregError("import-results takes one seed: the run the archive holds.")
    into = args.into or default_target(args.profile, seeds[0])
    names = unpack(args.path, into, args.profile, seeds[0])
    console.print(f"imported {len(names)} files into {into}; every one checked "
                  f"(profile {args.profile}, seed {seeds[0]}). Render them with "
                  f"`nox -s report -- --profile {args.profile}`.")


def check_locations(run: pipeline.Run, seeds: list[int], stage: str) -> list:
    """Every folder this invocation writes, checked before any work (the error names the
    folder and the fix); the results folders it computes into, to be locked."""
    if stage == "evidence":
        return []
    folders = [] if run.saved_only else [build_dir() / "data"] + \
        [pipeline.for_seed(run, s).results_dir for s in seeds]
    if stage == "report":
        folders.append(run.report_dir)
    for folder in folders:
        check_writable(folder, "folder", NEEDED_MIB[run.profile.name] * 2 ** 20)
    return [] if run.saved_only or stage == "prepare" else \
        [pipeline.for_seed(run, s).results_dir for s in seeds]


def run_stage(args) -> None:
    if args.stage == "import-results":
        return import_results(args)
    if distributed.launched():
        return run_distributed(args)
    run, seeds = make_run(args)
    with ExitStack() as stack:
        for folder in sorted(set(check_locations(run, seeds, args.stage))):
            stack.enter_context(exclusive(folder))
        run_locked(args, run, seeds)


def run_distributed(args) -> None:
    """One of torchrun's processes: the encoders trained together with DDP; the first
    process checks the folders, holds the lock and writes."""
    if args.stage != "train":
        raise VicregError(f"torchrun runs the train stage only; run `{args.stage}` as one "
                          "process afterwards (it reuses the trained encoders).")
    args.device = str(distributed.start(args.device))
    with distributed.writer_only_output(), ExitStack() as stack:
        run, seeds = make_run(args)
        if distributed.is_writer():
            for folder in sorted(set(check_locations(run, seeds, args.stage))):
                stack.enter_context(exclusive(folder))
        distributed.barrier()          # the folders are checked before anyone trains
        run_locked(args, run, seeds)
        distributed.barrier()


def run_locked(args, run: pipeline.Run, seeds: list[int]) -> None:
    if args.stage == "verify":
        if not (args.reuse or run.saved_only or run.force):
            run.force = frozenset({"all"})     # from nothing: every stage recomputed
        run_verify(run)
    elif args.stage == "evidence":
        run_evidence(run, seeds, args.rerun)
    elif args.stage == "report":
        outputs = pipeline.report(run, seeds)
        pipeline.require_outputs(outputs)
        for name, path in outputs.items():
            console.print(f"{name:>8}: {path}")
    elif args.stage == "evaluate":
        runs = [pipeline.for_seed(run, seed) for seed in seeds]
        for seed_run, study in zip(runs, pipeline.run_seeds(runs)):
            pipeline.save_timings(seed_run)
            for name, record in study.probes.items():
                probe = record.result
                console.print(f"seed {seed_run.profile.seed}, probe {name}: test "
                              f"{probe.test_acc:.2%}, train {probe.train_acc:.2%}")
    else:
        data = pipeline.prepare(run)
        console.print(f"data: {data.source} (fingerprint {data.fingerprint[:16]}, "
                      f"{'verified' if data.verified else 'no known checksum'})")
        if args.stage == "train":
            for seed in seeds:
                pipeline.train_encoders(pipeline.for_seed(run, seed), data)
    for stage, seconds in run.timings.items():
        console.print(f"[dim]{stage}: {seconds:.1f} s")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)   # stop as on Ctrl-C: finished work is kept
    # A shell starts a job put in the background with `&` with SIGINT ignored; a run
    # stops on it wherever it runs.
    signal.signal(signal.SIGINT, _interrupt)
    try:
        run_stage(args)
    except VicregError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except VerifyFailed:
        return 1
    except KeyboardInterrupt:
        console.print("[red]interrupted: finished stages are kept, and training keeps its last "
                      "finished epoch; run the same command again to continue")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
