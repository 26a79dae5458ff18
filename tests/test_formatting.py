"""Each kind of number is written one way; a language's conventions give its unit
words and its signs."""

import math

import pytest

from vicreg_report import formatting as f
from vicreg_report.catalogue import load

# The conventions of the two catalogues: English words, left to right; Hebrew, right to left.
EN, HE = load("en").conventions, load("he").conventions


@pytest.mark.parametrize("x, expected", [
    (0.724, "72.40%"), (0.6, "60.00%"), (1.0, "100.00%"), (0.0, "0.00%"),
    (0.12345, "12.35%"), (0.99999, "100.00%"), (1, "100.00%"),
])
def test_percent(x, expected):
    assert f.percent(x) == expected


def test_percent_places_and_nan():
    assert f.percent(0.72444, places=1) == "72.4%"
    assert f.percent(float("nan")) == f.NOT_A_NUMBER


@pytest.mark.parametrize("x, expected", [
    (0.031, "+3.10 pp"), (-0.031, "\u22123.10 pp"), (0.0, "0.00 pp"),
    (0.00001, "0.00 pp"), (-0.00001, "0.00 pp"), (0.2636, "+26.36 pp"),
])
def test_percent_points_signed(x, expected):
    assert f.percent_points(x, conv=EN) == expected


def test_percent_points_unsigned_and_hebrew():
    assert f.percent_points(-0.1117, signed=False, conv=EN) == "11.17 pp"
    assert f.percent_points(0.1117, signed=False, conv=HE) == "11.17 נקודות אחוז"
    # a signed number in Hebrew starts with a left-to-right mark (see test_signs_in_hebrew)
    assert f.percent_points(0.0123, conv=HE) == f.LRM + "+1.23 נקודות אחוז"
    # a real minus sign, never an ASCII hyphen
    assert "-" not in f.percent_points(-0.5, conv=EN)
    # a unit is a word of the language: without its conventions there is none
    with pytest.raises(ValueError, match="no word for the unit 'pp'"):
        f.percent_points(0.1)


@pytest.mark.parametrize("x, expected", [
    (0.9348, "0.9348"), (0.95904, "0.9590"), (0.5, "0.5000"), (1, "1.0000"),
])
def test_auc(x, expected):
    assert f.auc(x) == expected


@pytest.mark.parametrize("x, expected", [
    (21.4372, "21.437"), (47.7815, "47.782"), (1.0, "1.000"), (0.0, "0.000"),
    (0.912, "0.912"), (0.0412, "0.0412"), (0.012345, "0.0123"), (0.00123456, "0.00123"),
    (0.5, "0.500"), (-2.5, "-2.500"), (3.2e-6, "3.20e-6"), (1.96e-05, "1.96e-5"), (-2.31e-08, "-2.31e-8"),
])
def test_loss(x, expected):
    assert f.loss(x) == expected


def test_loss_never_rounds_a_small_term_to_zero():
    for x in (0.0004, 0.004, 0.04):
        assert float(f.loss(x)) != 0.0
        assert math.isclose(float(f.loss(x)), x, rel_tol=0.01)


@pytest.mark.parametrize("x, expected", [
    (4.24, "4.2 s"), (9.96, "10 s"), (42.3, "42 s"), (59.4, "59 s"), (60, "1 min 00 s"),
    (185.3, "3 min 05 s"), (3599.4, "59 min 59 s"), (3600, "1 h 00 min"),
    (3720, "1 h 02 min"), (7 * 3600 + 59 * 60 + 50, "8 h 00 min"),
])
def test_seconds(x, expected):
    assert f.seconds(x, conv=EN) == expected


def test_seconds_hebrew():
    assert f.seconds(185.3, conv=HE) == "3 דק׳ 05 שנ׳"
    assert f.seconds(42, conv=HE) == "42 שנ׳"
    assert f.seconds(3720, conv=HE) == "1 שע׳ 02 דק׳"
    assert f.seconds(-1) == f.NOT_A_NUMBER


@pytest.mark.parametrize("n, expected", [
    (50000, "50,000"), (10_000, "10,000"), (312, "312"), (0, "0"), (1234567, "1,234,567"),
    (2048.0, "2,048"),
])
def test_integer(n, expected):
    assert f.integer(n) == expected


def test_integer_rejects_fractions():
    with pytest.raises(ValueError):
        f.integer(2.5)


def test_megabytes():
    assert f.megabytes(12_345_678) == "12.3 MB"
    assert f.megabytes(500_000, places=2) == "0.50 MB"


@pytest.mark.parametrize("x, expected", [
    (25.0, "25"), (1.0, "1"), (0, "0"), (0.5, "0.5"), (1e-3, "0.001"), (3e-4, "3e-4"),
    (1e-6, "1e-6"), (1e-4, "1e-4"), (2.5e-5, "2.5e-5"), (0.9, "0.9"),
])
def test_real(x, expected):
    assert f.real(x) == expected


def test_timestamp():
    assert f.timestamp("2026-11-28T10:00:00Z") == "2026-11-28 10:00 UTC"
    assert f.timestamp("2026-11-28T12:30:59+02:00") == "2026-11-28 10:30 UTC"
    assert f.timestamp("not a date") == "not a date"


@pytest.mark.parametrize("func", [f.percent, f.percent_points, f.auc, f.loss, f.seconds,
                                  f.integer, f.megabytes, f.real])
@pytest.mark.parametrize("bad", [None, "0.5", True])
def test_formatters_reject_non_numbers(func, bad):
    with pytest.raises(TypeError, match=func.__name__):
        func(bad)


def test_filters_registry():
    for name in ("percent", "percent_points", "auc", "loss", "seconds", "integer",
                 "megabytes", "difference", "whole_percent"):
        assert callable(f.FILTERS[name])
    assert f.FILTERS["percent"] is f.percent


@pytest.mark.parametrize("x, expected", [
    (0.08841, "0.0884"), (0.1453, "0.1453"), (1.0, "1.0000"), (0, "0.0000"),
    (-0.0412, "\u22120.0412"), (-0.00004, "0.0000"), (0.99996, "1.0000"),
])
def test_score(x, expected):
    assert f.score(x) == expected
    assert "-" not in f.score(x)  # a real minus sign, never a hyphen


def test_score_nan():
    assert f.score(float("nan")) == f.NOT_A_NUMBER


@pytest.mark.parametrize("x, expected", [
    (5.965680678780247, "5.97"), (41.27, "41.27"), (128, "128.00"), (1.0, "1.00"),
])
def test_rank(x, expected):
    assert f.rank(x) == expected
    assert f.rank(float("inf")) == f.NOT_A_NUMBER


@pytest.mark.parametrize("x, kind, expected", [
    (0.724, "percent", "72.40%"), (0.93481, "auc", "0.9348"), (-0.0412, "score", "\u22120.0412"),
    (None, "percent", f.DASH), (None, "auc", f.DASH), (None, "score", f.DASH),
])
def test_metric(x, kind, expected):
    assert f.metric(x, kind) == expected


def test_metric_rejects_unknown_kind_and_non_numbers():
    with pytest.raises(ValueError, match="unknown kind 'seconds'"):
        f.metric(0.5, "seconds")
    with pytest.raises(TypeError, match="percent"):
        f.metric("0.5", "percent")
    # the kinds of metrics.METRICS
    assert set(f.METRIC_KINDS) == {"percent", "auc", "score", "rank", "loss"}
    assert f.metric(5.9657, "rank") == "5.97" and f.metric(21.4371, "loss") == "21.437"


def test_metric_kinds_cover_every_metric():
    from vicreg_report.metrics import METRICS

    assert {m.kind for m in METRICS} <= set(f.METRIC_KINDS)


def test_is_one():
    assert f.is_one(1) and f.is_one(1.0)
    assert not f.is_one(0) and not f.is_one(2) and not f.is_one(0.999)
    with pytest.raises(TypeError, match="is_one"):
        f.is_one(None)
    assert f.TESTS["one"] is f.is_one


@pytest.mark.parametrize("func", [f.score, f.rank])
@pytest.mark.parametrize("bad", [None, "0.5", True])
def test_new_formatters_reject_non_numbers(func, bad):
    with pytest.raises(TypeError, match=func.__name__):
        func(bad)


def test_new_filters_registered():
    for name in ("score", "rank", "metric"):
        assert f.FILTERS[name] is getattr(f, name)


def test_signs_in_right_to_left_text():
    """A leading sign stays on the left of its digits in right-to-left text: the
    number starts with an (invisible) left-to-right mark, only in such a language."""
    assert HE.rtl and not EN.rtl
    assert f.score(-0.0412, conv=HE) == f.LRM + "\u22120.0412"
    assert f.score(0.0412, conv=HE) == "0.0412"
    assert f.metric(-0.0412, "score", conv=HE) == f.LRM + "\u22120.0412"
    assert f.metric(0.5, "percent", conv=HE) == "50.00%"
    assert f.percent_points(-0.031, conv=HE).startswith(f.LRM + "\u22123.10")
    assert f.percent_points(-0.031, signed=False, conv=HE) == "3.10 נקודות אחוז"
    assert f.percent_points(0.0, conv=HE) == "0.00 נקודות אחוז"
    assert f.score(-0.0412, conv=EN) == f.score(-0.0412) == "\u22120.0412"


# ---------------------------------------------------------------- mean ± std over seeds

ONE = {"mean": 0.5156, "std": 0.0, "n": 1, "values": [0.5156]}
TWO = {"mean": 0.5859375, "std": 0.0994369, "n": 2, "values": [0.515625, 0.65625]}


@pytest.mark.parametrize("kind, s, expected", [
    ("percent", TWO, "58.59% ± 9.94% (2 seeds)"),
    ("auc", {"mean": 0.93481, "std": 0.01234, "n": 3}, "0.9348 ± 0.0123 (3 seeds)"),
    ("score", {"mean": -0.0412, "std": 0.0021, "n": 2}, "\u22120.0412 ± 0.0021 (2 seeds)"),
    ("rank", {"mean": 5.9657, "std": 0.171, "n": 2}, "5.97 ± 0.17 (2 seeds)"),
    ("loss", {"mean": 21.4371, "std": 0.5123, "n": 4}, "21.437 ± 0.512 (4 seeds)"),
])
def test_spread_several_seeds(kind, s, expected):
    assert f.spread(s, kind, conv=EN) == expected
    assert f.spread(s, kind, count=False) == expected.rsplit(" (", 1)[0]


def test_spread_one_seed_is_the_single_value():
    """With one seed the number is written exactly as metric() writes it."""
    assert f.spread(ONE, "percent") == f.metric(0.5156, "percent") == "51.56%"
    assert f.spread({"mean": -0.0412, "std": 0.0, "n": 1}, "score", conv=HE) == \
        f.metric(-0.0412, "score", conv=HE)
    assert f.spread(None, "percent") == f.DASH
    assert f.over_seeds(ONE, "percent") == "" and f.over_seeds(ONE, "auc", conv=HE) == ""


def test_over_seeds_follows_a_single_number():
    assert f.over_seeds(TWO, "percent", conv=EN) == " (2 seeds: 58.59% ± 9.94%)"
    assert f.percent(0.515625) + f.over_seeds(TWO, "percent", conv=EN) == \
        "51.56% (2 seeds: 58.59% ± 9.94%)"


def test_spread_in_hebrew_is_one_left_to_right_run():
    """mean ± std is one left-to-right run in right-to-left text: a left-to-right mark
    before it (so the two numbers are not swapped), a right-to-left mark after it (so
    the Hebrew words that follow are not pulled into it)."""
    assert f.spread(TWO, "percent", conv=HE) == \
        f.LRM + "58.59% ± 9.94%" + f.RLM + " (2 זרעים)"
    assert f.over_seeds(TWO, "percent", conv=HE) == \
        " (2 זרעים: " + f.LRM + "58.59% ± 9.94%" + f.RLM + ")"
    assert f.spread({"mean": -0.0412, "std": 0.0021, "n": 2}, "score", conv=HE,
                    count=False) == f.LRM + "\u22120.0412 ± 0.0021" + f.RLM


def test_spread_rejects_what_is_not_a_seeds_entry():
    with pytest.raises(TypeError, match="spread"):
        f.spread(0.5, "percent")
    with pytest.raises(TypeError, match="over_seeds"):
        f.over_seeds({"mean": 0.5}, "percent")
    with pytest.raises(ValueError, match="n >= 1"):
        f.spread({"mean": 0.5, "std": 0.0, "n": 0}, "percent")
    with pytest.raises(ValueError, match="unknown kind"):
        f.spread(TWO, "seconds")
    with pytest.raises(ValueError, match="unknown kind"):
        f.over_seeds(ONE, "seconds")
    assert f.FILTERS["spread"] is f.spread and f.FILTERS["over_seeds"] is f.over_seeds


def test_difference_is_signed_in_the_kind_of_its_numbers():
    assert f.difference(0.031, "percent", conv=f.Conventions(units={"pp": "pp"})) == "+3.10 pp"
    assert f.difference(-0.00123, "auc") == "\u22120.0012"
    assert f.difference(0.0, "score") == "0.0000"
    assert f.difference(-1.3, "rank") == "\u22121.30"
    assert f.difference(2.5, "loss") == "+2.500"
    rtl = f.Conventions(rtl=True)
    assert f.difference(-0.5, "score", conv=rtl) == f.LRM + "\u22120.5000"
    assert f.whole_percent(0.95) == "95%"
