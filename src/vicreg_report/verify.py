"""Verify: a run's metrics against committed references, one row per metric.

References live in ``reference/``:
- ``<profile>.json``: this project's own expected value and tolerance per metric,
  derived from a multi-seed evidence file (see evidence.py);
- ``full-original.json``: the full profile against the original write-up, with
  wider tolerances stated there.
A metric passes when |measured - expected| <= tolerance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from .errors import VicregError
from .metrics import BY_NAME
from .original import original
from .progress import console

REFERENCE_DIR = Path(__file__).with_name("reference")


@dataclass
class Check:
    metric: str
    expected: float
    measured: float
    tolerance: float
    gate: bool = True         # False: printed, never fails

    @property
    def passed(self) -> bool:
        return abs(self.measured - self.expected) <= self.tolerance

    @property
    def verdict(self) -> str:
        if not self.gate:
            return "info"
        return "pass" if self.passed else "FAIL"


def own_reference_path(profile: str) -> Path:
    return REFERENCE_DIR / f"{profile}.json"


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise VicregError(f"Cannot read the reference {path} ({exc}).") from None


def own_reference(profile: str) -> dict[str, dict]:
    """{metric: {"expected", "tolerance"}} of the committed reference for ``profile``."""
    return _read(own_reference_path(profile))["metrics"]


def original_reference() -> dict[str, dict]:
    """The original write-up's figures as {metric: {"expected", "tolerance", "gate"}}."""
    reported = original()["reported"]
    return {name: {"expected": reported[m["original"]], "tolerance": m["tolerance"],
                   "gate": m["gate"]}
            for name, m in _read(REFERENCE_DIR / "full-original.json")["metrics"].items()}


def compare(measured: dict[str, float], reference: dict[str, dict]) -> list[Check]:
    """One check per reference metric; a metric the run lacks is an error, not a pass."""
    unknown = sorted(set(reference) - set(BY_NAME))
    missing = sorted(set(reference) - set(measured))
    if unknown or missing:
        raise VicregError(f"The reference names metrics the run does not have: "
                          f"{', '.join(unknown + missing)}. Regenerate the reference.")
    return [Check(name, float(ref["expected"]), measured[name], float(ref["tolerance"]),
                  bool(ref.get("gate", True)))
            for name, ref in reference.items()]


def table(checks: list[Check], title: str) -> Table:
    t = Table(title=title)
    for column in ("metric", "expected", "measured", "difference", "tolerance", "result"):
        t.add_column(column, justify="left" if column == "metric" else "right")
    for c in checks:
        colour = {"pass": "green", "FAIL": "bold red", "info": "dim"}[c.verdict]
        t.add_row(c.metric, f"{c.expected:.4f}", f"{c.measured:.4f}",
                  f"{c.measured - c.expected:+.4f}", f"{c.tolerance:.4f}",
                  f"[{colour}]{c.verdict}[/]")
    return t


def references_for(profile: str) -> list[tuple[str, dict[str, dict]]]:
    """(title, reference) pairs that apply to ``profile``."""
    refs = []
    if profile == "full":
        refs.append(("full profile against the original write-up", original_reference()))
    if own_reference_path(profile).is_file():
        refs.append((f"{profile} profile against its committed reference",
                     own_reference(profile)))
    if not refs:
        raise VicregError(f"No committed reference for the {profile} profile "
                          f"({own_reference_path(profile)}). Make one with "
                          f"`python -m vicreg_report evidence --profile {profile} --seed 0 1 2`.")
    return refs


def numerics_note(reference: str, run: str) -> str | None:
    """A warning when this run trained with other numerics than the committed reference
    (e.g. float32 on a CPU without bf16 against a bf16 reference), else None."""
    if reference in ("unknown", run):
        return None
    return (f"The reference was trained with {reference}; this run with {run}. The "
            "tolerances come from the spread of the reference's seeds: a difference in the "
            "numerics usually stays within them, but they do not promise it (README, Profiles).")


def verify(measured: dict[str, float], profile: str, run_numerics: str = "unknown") -> bool:
    """Print one table per applicable reference; True when every gating metric passes."""
    if own_reference_path(profile).is_file():
        note = numerics_note(_read(own_reference_path(profile)).get("numerics", "unknown"),
                             run_numerics)
        if note:
            console.print(f"[yellow]{note}")
    ok = True
    for title, reference in references_for(profile):
        checks = compare(measured, reference)
        console.print(table(checks, title))
        failed = [c.metric for c in checks if c.gate and not c.passed]
        ok &= not failed
        console.print(f"[bold red]{len(failed)} failed: {', '.join(failed)}" if failed else
                      f"[green]all {sum(c.gate for c in checks)} gating metrics within tolerance")
    return ok
