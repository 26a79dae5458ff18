"""The original write-up's qualitative claims, each decided by comparisons with intervals.

``evaluate_claims`` reads the run's comparisons (comparisons.py: one run's
bootstrap intervals, or, over several seeds, t-intervals of the per-seed
differences) and returns one ``Claim`` per statement in STUDY.md: its verdict,
"supported", "not_supported" or "undecided" (the interval of a deciding
comparison contains zero), the comparisons that decide it and those shown as
second evidence. The document words each verdict from ``verdict``.

Each claim is tested the way the original meant it:
- t-SNE against PCA, and vehicles against animals: in the 2-D maps (kNN accuracy
  and per-group kNN recall in the Q1 map); the probe is second evidence.
- Q4's collapse: absolute, an effective rank of a few dimensions and most of the
  variance in the top two principal components (thresholds in experiments/no_variance.py).
- The digits: each digit's share among the most anomalous MNIST images against
  its share of the MNIST test set (enrichment), not raw counts.
- Q5's most distant images: the share of near-grey images over half, and above Q1's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .experiments.anomaly import ANOMALY_DIGITS, digit_comparison

SUPPORTED, NOT_SUPPORTED, UNDECIDED = "supported", "not_supported", "undecided"
OPPOSITE = {"higher": "lower", "lower": "higher"}

# claim id -> (the comparisons that decide it, each with the verdict the claim needs;
# the comparisons shown beside them as second evidence)
RULES: dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = {
    "tsne_beats_pca": ((("tsne_vs_pca_knn_q1", "higher"),), ("tsne_vs_pca_silhouette_q1",)),
    "vehicles_beat_animals": ((("tsne_vehicles_vs_animals_q1", "higher"),),
                              ("probe_vehicles_vs_animals_q1",)),
    "q4_collapses": ((("effective_rank_q4_vs_collapse", "lower"),
                      ("top2_q4_vs_two_lines", "higher")),
                     ("effective_rank_q4_vs_q1", "top2_q4_vs_q1", "probe_q4_vs_q1")),
    "q5_auc_higher": ((("auc_q5_vs_q1", "higher"),), ()),
    "q5_silhouette_higher_yet_worse_match": ((("silhouette_q5_vs_q1", "higher"),
                                              ("ari_q5_vs_q1", "lower")), ("nmi_q5_vs_q1",)),
    "q5_mixes_animals": ((("animal_mixing_q5_vs_q1", "higher"),), ("same_class_q5_vs_q1",)),
    "q5_farthest_grey": ((("farthest_grey_q5_vs_majority", "higher"),
                          ("farthest_grey_q5_vs_q1", "higher")),
                         ("farthest_grey_q5_vs_dataset",)),
}
CLAIM_ORDER = ("tsne_beats_pca", "vehicles_beat_animals", "q4_collapses", "q5_auc_higher",
               "digits_8_and_1", "q5_silhouette_higher_yet_worse_match", "q5_mixes_animals",
               "q5_farthest_grey")


@dataclass
class Claim:
    id: str
    verdict: str                  # SUPPORTED | NOT_SUPPORTED | UNDECIDED
    deciding: dict[str, dict]     # comparison name -> its fields and "needed"
    evidence: dict[str, dict]     # second evidence, not deciding
    values: dict = field(default_factory=dict)   # what the claim names (its digits)


def all_needed(checks: list[tuple[str, str]], verdicts: dict[str, str]) -> str:
    """Supported when every comparison goes the needed way, not supported when one
    goes the other way, undecided otherwise."""
    if all(verdicts[name] == needed for name, needed in checks):
        return SUPPORTED
    if any(verdicts[name] == OPPOSITE[needed] for name, needed in checks):
        return NOT_SUPPORTED
    return UNDECIDED


def any_of(outcomes: list[str]) -> str:
    """One of several ways suffices: supported if one is, not supported if none can be."""
    if SUPPORTED in outcomes:
        return SUPPORTED
    return NOT_SUPPORTED if all(o == NOT_SUPPORTED for o in outcomes) else UNDECIDED


def digit_assignments() -> list[list[tuple[str, str]]]:
    """One encoder favours the first digit and the other the second, either way round:
    each digit's share enriched ("higher" than its base rate) for its encoder."""
    first, second = ANOMALY_DIGITS
    return [[(digit_comparison(first, "q1"), "higher"), (digit_comparison(second, "q5"), "higher")],
            [(digit_comparison(second, "q1"), "higher"), (digit_comparison(first, "q5"), "higher")]]


def evaluate_claims(comparisons: dict[str, dict]) -> list[Claim]:
    """``comparisons``: name -> {"a", "b", "diff", "low", "high", "verdict", ...}."""
    verdicts = {name: c["verdict"] for name, c in comparisons.items()}

    def shown(names, needed=None):
        return {n: {**comparisons[n], **({"needed": needed[n]} if needed else {})}
                for n in names}

    out = []
    for claim_id in CLAIM_ORDER:
        if claim_id == "digits_8_and_1":
            ways = digit_assignments()
            checks = dict(check for way in ways for check in way)
            deciding = shown(checks, checks)
            for digit in ANOMALY_DIGITS:
                for encoder in ("q1", "q5"):
                    deciding[digit_comparison(digit, encoder)].update(digit=digit,
                                                                       encoder=encoder)
            out.append(Claim(claim_id, any_of([all_needed(w, verdicts) for w in ways]),
                             deciding, {}, {"first": ANOMALY_DIGITS[0],
                                            "second": ANOMALY_DIGITS[1]}))
            continue
        checks, second = RULES[claim_id]
        needed = dict(checks)
        out.append(Claim(claim_id, all_needed(list(checks), verdicts),
                         shown(needed, needed), shown(second)))
    return out


def as_context(claims: list[Claim]) -> list[dict]:
    return [asdict(c) for c in claims]
