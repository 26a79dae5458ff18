"""Command line: ``python -m vicreg_report STAGE [options]``."""

from __future__ import annotations

import argparse
import sys

from rich.markup import escape

from . import pipeline
from .config import DEFAULT_PROFILE, PROFILES, get_profile
from .errors import VicregError
from .progress import console

STAGES = {
    "prepare": "find, check and cache the data (CIFAR-10 train/test, MNIST test)",
    "train": "train the encoders Q1, Q4 (mu = 0) and Q5 (neighbour pairs) unless fresh",
    "evaluate": "train if needed, then every experiment: probes, maps, Q6, retrieval, "
                "anomalies, clustering",
    "report": "run whatever is missing or stale, then write the PDF and HTML documents",
}
FORCEABLE = ("all", "train", "representations", "probe", "embedding2d", "laplacian",
             "retrieval", "anomaly", "clustering")


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
        sp.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return ap


def run_stage(args) -> None:
    run = pipeline.Run(get_profile(args.profile), data=args.data, download=args.download,
                       device=args.device, force=frozenset(args.force),
                       show_progress=not args.no_progress)
    if args.stage == "report":
        outputs = pipeline.report(run)
        pipeline.require_outputs(outputs)
        for name, path in outputs.items():
            console.print(f"{name:>8}: {path}")
    elif args.stage == "evaluate":
        study = pipeline.run_study(run)
        for name, probe in study.probes.items():
            console.print(f"probe {name}: test {probe.test_acc:.2%}, train {probe.train_acc:.2%}")
    else:
        data = pipeline.prepare(run)
        console.print(f"data: {data.source} (fingerprint {data.fingerprint[:16]}, "
                      f"{'verified' if data.verified else 'no known checksum'})")
        if args.stage == "train":
            pipeline.train_encoders(run, data)
    for stage, seconds in run.timings.items():
        console.print(f"[dim]{stage}: {seconds:.1f} s")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        run_stage(args)
    except VicregError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print("[red]interrupted; finished results are kept, partial ones were not written")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
