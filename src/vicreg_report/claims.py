"""The original write-up's qualitative claims, each decided by a measurement of this run.

``evaluate_claims`` reads a flat dict of named measurements and returns one
``Claim`` per statement in STUDY.md: the values that decide it and whether
this run supports it. The document words each verdict from ``supported``.
"""

from __future__ import annotations

from dataclasses import dataclass

# Decision rules stated in the document beside each claim.
COLLAPSE_RANK_RATIO = 0.5      # Q4's effective rank at most half of Q1's ...
GREY_MAJORITY = 0.5            # "dominated by black and white": over half near-grey
# The two MNIST digits the original write-up saw the two encoders favour among the most
# anomalous images, one each (in either order).
ANOMALY_DIGITS = ("8", "1")


@dataclass
class Claim:
    id: str
    supported: bool
    values: dict[str, float | str]


def favoured(counts: dict[str, int]) -> str:
    """The label counted most often (ties: the smaller label)."""
    return min(counts, key=lambda k: (-counts[k], k))


def evaluate_claims(m: dict) -> list[Claim]:
    """``m``: the measurements named below, from this run's result files."""
    def claim(id_, supported, *keys, **extra):
        return Claim(id_, bool(supported), {**{k: m[k] for k in keys}, **extra})

    q1_digit, q5_digit = favoured(m["q1_wide_digits"]), favoured(m["q5_wide_digits"])
    return [
        claim("tsne_beats_pca", m["q1_tsne_knn"] > m["q1_pca_knn"],
              "q1_pca_knn", "q1_tsne_knn", "q1_pca_silhouette", "q1_tsne_silhouette"),
        claim("vehicles_beat_animals", m["q1_vehicles_probe"] > m["q1_animals_probe"],
              "q1_vehicles_probe", "q1_animals_probe", "q1_vehicles_map", "q1_animals_map"),
        claim("q4_collapses",
              m["q4_effective_rank"] <= COLLAPSE_RANK_RATIO * m["q1_effective_rank"]
              and m["q4_top2"] > m["q1_top2"],
              "q1_effective_rank", "q4_effective_rank", "q1_top2", "q4_top2",
              rank_ratio=COLLAPSE_RANK_RATIO),
        claim("q5_auc_higher", m["q5_auc"] > m["q1_auc"], "q1_auc", "q5_auc"),
        claim("digits_8_and_1", {q1_digit, q5_digit} == set(ANOMALY_DIGITS),
              q1_digit=q1_digit, q5_digit=q5_digit,
              expected_first=ANOMALY_DIGITS[0], expected_second=ANOMALY_DIGITS[1],
              q1_digit_count=m["q1_wide_digits"][q1_digit],
              q5_digit_count=m["q5_wide_digits"][q5_digit], wide_top=m["wide_top"]),
        claim("q5_silhouette_higher_yet_worse_match",
              m["q5_silhouette"] > m["q1_silhouette"] and m["q5_ari"] < m["q1_ari"],
              "q1_silhouette", "q5_silhouette", "q1_ari", "q5_ari", "q1_nmi", "q5_nmi"),
        claim("q5_mixes_animals", m["q5_animal_mixing"] > m["q1_animal_mixing"],
              "q1_animal_mixing", "q5_animal_mixing"),
        claim("q5_farthest_grey", m["q5_farthest_grey"] > GREY_MAJORITY,
              "q5_farthest_grey", "q1_farthest_grey", "dataset_grey", threshold=GREY_MAJORITY),
    ]
