"""Claim verdicts from hand-written comparisons (verdicts and the rules' three outcomes)."""

import pytest

from vicreg_report import claims
from vicreg_report.claims import NOT_SUPPORTED, SUPPORTED, UNDECIDED, evaluate_claims

# Every comparison a claim reads, "undecided" unless a case says otherwise.
NAMES = ("tsne_vs_pca_knn_q1", "tsne_vs_pca_silhouette_q1", "tsne_vehicles_vs_animals_q1",
         "probe_vehicles_vs_animals_q1", "effective_rank_q4_vs_collapse", "top2_q4_vs_two_lines",
         "effective_rank_q4_vs_q1", "top2_q4_vs_q1", "probe_q4_vs_q1", "auc_q5_vs_q1",
         "silhouette_q5_vs_q1", "ari_q5_vs_q1", "nmi_q5_vs_q1", "animal_mixing_q5_vs_q1",
         "same_class_q5_vs_q1", "farthest_grey_q5_vs_majority", "farthest_grey_q5_vs_q1",
         "farthest_grey_q5_vs_dataset", "digit_8_q1", "digit_1_q1", "digit_8_q5", "digit_1_q5")
SIGN = {"higher": (0.01, 0.02), "lower": (-0.02, -0.01), "undecided": (-0.01, 0.01)}


def comparisons(**verdicts):
    out = {}
    for name in NAMES:
        v = verdicts.get(name, "undecided")
        low, high = SIGN[v]
        out[name] = {"a": 0.5, "b": 0.5, "diff": (low + high) / 2, "low": low, "high": high,
                     "verdict": v, "method": "bootstrap", "resamples": 1000}
    return out


def verdict_of(claim_id, **verdicts):
    return next(c.verdict for c in evaluate_claims(comparisons(**verdicts)) if c.id == claim_id)


@pytest.mark.parametrize("claim_id, verdicts, expected", [
    ("tsne_beats_pca", {"tsne_vs_pca_knn_q1": "higher"}, SUPPORTED),
    ("tsne_beats_pca", {"tsne_vs_pca_knn_q1": "lower", "tsne_vs_pca_silhouette_q1": "higher"},
     NOT_SUPPORTED),                                         # the silhouette does not decide
    ("tsne_beats_pca", {"tsne_vs_pca_silhouette_q1": "higher"}, UNDECIDED),
    ("vehicles_beat_animals", {"tsne_vehicles_vs_animals_q1": "higher",
                               "probe_vehicles_vs_animals_q1": "lower"}, SUPPORTED),
    ("vehicles_beat_animals", {"probe_vehicles_vs_animals_q1": "higher"}, UNDECIDED),
    ("q4_collapses", {"effective_rank_q4_vs_collapse": "lower", "top2_q4_vs_two_lines": "higher"},
     SUPPORTED),
    ("q4_collapses", {"effective_rank_q4_vs_collapse": "lower"}, UNDECIDED),
    ("q4_collapses", {"effective_rank_q4_vs_collapse": "higher", "top2_q4_vs_two_lines": "higher",
                      "effective_rank_q4_vs_q1": "lower"}, NOT_SUPPORTED),  # relative is not enough
    ("q5_auc_higher", {"auc_q5_vs_q1": "higher"}, SUPPORTED),
    ("q5_auc_higher", {"auc_q5_vs_q1": "lower"}, NOT_SUPPORTED),
    ("q5_auc_higher", {}, UNDECIDED),                         # 0.9993 against 0.9995 lands here
    ("q5_silhouette_higher_yet_worse_match", {"silhouette_q5_vs_q1": "higher",
                                              "ari_q5_vs_q1": "lower"}, SUPPORTED),
    ("q5_silhouette_higher_yet_worse_match", {"silhouette_q5_vs_q1": "higher",
                                              "ari_q5_vs_q1": "higher"}, NOT_SUPPORTED),
    ("q5_silhouette_higher_yet_worse_match", {"silhouette_q5_vs_q1": "higher"}, UNDECIDED),
    ("q5_mixes_animals", {"animal_mixing_q5_vs_q1": "higher"}, SUPPORTED),
    ("q5_farthest_grey", {"farthest_grey_q5_vs_majority": "higher",
                          "farthest_grey_q5_vs_q1": "higher"}, SUPPORTED),
    ("q5_farthest_grey", {"farthest_grey_q5_vs_majority": "higher",
                          "farthest_grey_q5_vs_q1": "lower"}, NOT_SUPPORTED),
    ("q5_farthest_grey", {"farthest_grey_q5_vs_dataset": "higher",
                          "farthest_grey_q5_vs_q1": "higher"}, UNDECIDED),
    ("digits_8_and_1", {"digit_8_q1": "higher", "digit_1_q5": "higher"}, SUPPORTED),
    ("digits_8_and_1", {"digit_1_q1": "higher", "digit_8_q5": "higher"}, SUPPORTED),
    ("digits_8_and_1", {"digit_8_q1": "higher", "digit_8_q5": "higher"}, UNDECIDED),
    ("digits_8_and_1", {"digit_8_q1": "lower", "digit_1_q1": "lower"}, NOT_SUPPORTED),
    ("digits_8_and_1", {"digit_8_q1": "higher", "digit_1_q5": "lower",
                        "digit_1_q1": "lower"}, NOT_SUPPORTED),
])
def test_claim_verdicts(claim_id, verdicts, expected):
    assert verdict_of(claim_id, **verdicts) == expected


def test_every_claim_of_the_study_is_decided_once_in_order():
    out = evaluate_claims(comparisons())
    assert [c.id for c in out] == ["tsne_beats_pca", "vehicles_beat_animals", "q4_collapses",
                                   "q5_auc_higher", "digits_8_and_1",
                                   "q5_silhouette_higher_yet_worse_match", "q5_mixes_animals",
                                   "q5_farthest_grey"]
    collapse = next(c for c in out if c.id == "q4_collapses")
    assert set(collapse.deciding) == {"effective_rank_q4_vs_collapse", "top2_q4_vs_two_lines"}
    assert collapse.deciding["top2_q4_vs_two_lines"]["needed"] == "higher"
    assert "probe_q4_vs_q1" in collapse.evidence


def test_claimed_digits_come_from_the_constant(monkeypatch):
    monkeypatch.setattr(claims, "ANOMALY_DIGITS", ("3", "7"))
    ways = claims.digit_assignments()
    assert ways[0] == [("digit_3_q1", "higher"), ("digit_7_q5", "higher")]
