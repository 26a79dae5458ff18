"""How every number in the report is written: one pure function per kind of number.

The templates never contain a result number; they pass each value from the
context through one of these functions (registered as Jinja filters in
``FILTERS``), so a kind of number is written the same way everywhere, in every
language.  What a language changes (its unit words, and signs in right-to-left
text) comes from its catalogue as ``Conventions``, which the Jinja environment of
that language hands to every function that takes ``conv``.  Which way a comparison
goes is decided elsewhere, with its noise (comparisons.py), never here.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from numbers import Real
from typing import Callable, Mapping

MINUS = "\u2212"  # a real minus sign, not a hyphen
NOT_A_NUMBER = "n/a"
DASH = "\u2014"  # a value that does not exist (e.g. not reported by the original write-up)
LRM = "\u200e"   # left-to-right mark, see _sign_first
RLM = "\u200f"   # right-to-left mark, see spread
PLUS_MINUS = "\u00b1"

UNITS = ("h", "min", "s", "pp", "seeds")   # the unit words a language's conventions give


@dataclass(frozen=True)
class Conventions:
    """How a language writes numbers, from its catalogue: the words of UNITS, and
    whether its text runs right to left (a signed number then starts with a mark,
    see ``_sign_first``).  The default has no unit words: a number that needs one
    asks for the language's conventions."""
    units: Mapping[str, str] = field(default_factory=dict)
    rtl: bool = False


PLAIN = Conventions()


def _number(x, what: str) -> float:
    """``x`` as a float; a TypeError that names the formatter for anything else."""
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{what}() expects a number, got {x!r} ({type(x).__name__})")
    return float(x)


def _unit(conv: Conventions, name: str) -> str:
    try:
        return conv.units[name]
    except KeyError:
        raise ValueError(f"no word for the unit {name!r}: pass the language's conventions "
                         "(conv=, from its catalogue)") from None


def _sign_first(text: str, conv: Conventions) -> str:
    """In right-to-left text a leading sign is a neutral character, and the
    bidirectional algorithm puts it on the right of the digits ('0.0412−').
    There a signed number starts with a left-to-right mark, which makes the
    sign and the digits one left-to-right run ('−0.0412'); it is invisible."""
    if conv.rtl and text[:1] in (MINUS, "+"):
        return LRM + text
    return text


def _signed(text: str, value: float) -> str:
    """Prefix a formatted magnitude with + or a real minus sign; zero gets no sign."""
    if float(text.replace(",", "")) == 0.0:
        return text
    return ("+" if value > 0 else MINUS) + text


def percent(x, places: int = 2) -> str:
    """A fraction in [0, 1] as a percentage: 0.724 -> '72.40%'."""
    v = _number(x, "percent")
    if not math.isfinite(v):
        return NOT_A_NUMBER
    return f"{v * 100:.{places}f}%"


def whole_percent(x) -> str:
    """A share in whole percent, for a stated level: 0.95 -> '95%'."""
    v = _number(x, "whole_percent")
    return f"{v * 100:.0f}%" if math.isfinite(v) else NOT_A_NUMBER


def percent_points(x, places: int = 2, *, signed: bool = True,
                   conv: Conventions = PLAIN) -> str:
    """A difference of two fractions in percentage points: 0.031 -> '+3.10 pp'.

    ``signed=False`` gives the magnitude only ('3.10 pp'), for prose whose words
    already say which way the difference goes.
    """
    v = _number(x, "percent_points")
    if not math.isfinite(v):
        return NOT_A_NUMBER
    magnitude = f"{abs(v) * 100:.{places}f}"
    text = _sign_first(_signed(magnitude, v), conv) if signed else magnitude
    return f"{text} {_unit(conv, 'pp')}"


def auc(x) -> str:
    """An area under a ROC curve, four decimals: 0.93481 -> '0.9348'."""
    v = _number(x, "auc")
    return f"{v:.4f}" if math.isfinite(v) else NOT_A_NUMBER


def score(x, places: int = 4, *, conv: Conventions = PLAIN) -> str:
    """A score in [-1, 1] such as a silhouette, an ARI or an NMI, four decimals,
    with a real minus sign: 0.08841 -> '0.0884', -0.0123 -> '\u22120.0123'
    (right to left: with a left-to-right mark first, see ``_sign_first``)."""
    v = _number(x, "score")
    if not math.isfinite(v):
        return NOT_A_NUMBER
    text = f"{abs(v):.{places}f}"
    return _sign_first(MINUS + text if v < 0 and float(text) != 0.0 else text, conv)


def rank(x, places: int = 2) -> str:
    """An effective rank (a real number of dimensions), two decimals: 5.9657 -> '5.97'."""
    v = _number(x, "rank")
    return f"{v:.{places}f}" if math.isfinite(v) else NOT_A_NUMBER


def metric(x, kind: str, *, conv: Conventions = PLAIN) -> str:
    """A headline number written as its ``kind`` says ('percent', 'auc', 'score',
    'rank' or 'loss'); None (a number that does not exist, such as one the original
    write-up did not report) as a dash."""
    if x is None:
        return DASH
    return _by_kind(x, kind, conv, "metric")


def difference(x, kind: str, *, conv: Conventions = PLAIN) -> str:
    """A signed difference of two numbers of ``kind``: percentage points for 'percent'
    ('+3.10 pp'), else the kind's own format with a sign ('+0.0012', '−1.30')."""
    v = _number(x, "difference")
    if kind == "percent":
        return percent_points(v, conv=conv)
    if not math.isfinite(v):
        return NOT_A_NUMBER
    text = _by_kind(abs(v), kind, conv, "difference")
    return _sign_first(_signed(text, v), conv)


def _by_kind(x, kind: str, conv: Conventions, what: str) -> str:
    try:
        func = METRIC_KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"{what}() got unknown kind {kind!r}; expected one of "
                         f"{sorted(METRIC_KINDS)}") from None
    return func(x, conv=conv) if func is score else func(x)


def _seed_entry(s, what: str) -> tuple[float, float, int]:
    """(mean, std, n) of an entry of ``metrics.across_seeds``; a TypeError otherwise."""
    try:
        mean, std, n = s["mean"], s["std"], s["n"]
    except (KeyError, TypeError, IndexError):
        raise TypeError(f"{what}() expects a seeds entry with mean, std and n, got {s!r}") \
            from None
    n = _number(n, what)
    if n != int(n) or n < 1:
        raise ValueError(f"{what}() expects a seeds entry with n >= 1, got n = {s['n']!r}")
    return _number(mean, what), _number(std, what), int(n)


def _mean_std(mean: float, std: float, kind: str, conv: Conventions, what: str) -> str:
    """'mean ± std', both written as ``kind`` says; right to left, one left-to-right run
    (a left-to-right mark first, a right-to-left mark after), so that the bidirectional
    algorithm neither swaps the two numbers nor pulls the words that follow into the run."""
    text = f"{_by_kind(mean, kind, PLAIN, what)} {PLUS_MINUS} {_by_kind(std, kind, PLAIN, what)}"
    return f"{LRM}{text}{RLM}" if conv.rtl else text


def spread(s, kind: str, *, conv: Conventions = PLAIN, count: bool = True) -> str:
    """A metric over seeds (an entry of ``metrics.across_seeds``: mean, std, n), for a
    table: one seed as the single value, written as ``metric`` writes it; several as
    'mean ± std (n seeds)': {'mean': 0.5, 'std': 0.0221, 'n': 2} -> '50.00% ± 2.21%
    (2 seeds)'; ``count=False`` leaves out ' (n seeds)' (for a table whose heading
    says it).  None (no such metric) as a dash."""
    if s is None:
        return DASH
    mean, std, n = _seed_entry(s, "spread")
    if n == 1:
        return _by_kind(mean, kind, conv, "spread")
    text = _mean_std(mean, std, kind, conv, "spread")
    return f"{text} ({n} {_unit(conv, 'seeds')})" if count else text


def over_seeds(s, kind: str, *, conv: Conventions = PLAIN) -> str:
    """The spread over seeds to follow a single seed's number in the text: nothing for
    one seed; for several ' (n seeds: mean ± std)', e.g. ' (2 seeds: 50.00% ± 2.21%)'."""
    mean, std, n = _seed_entry(s, "over_seeds")
    if n == 1:
        _by_kind(mean, kind, conv, "over_seeds")  # the kind is checked all the same
        return ""
    seeds = _unit(conv, "seeds")
    return f" ({n} {seeds}: {_mean_std(mean, std, kind, conv, 'over_seeds')})"


def loss(x) -> str:
    """A loss value: three decimals ('21.437'); below 1, three significant digits
    ('0.0123'), so that a small term is not written as '0.000'; below 1e-4 in
    exponent form ('1.96e-5')."""
    v = _number(x, "loss")
    if not math.isfinite(v):
        return NOT_A_NUMBER
    if v == 0.0 or abs(v) >= 1.0:
        return f"{v:.3f}"
    if abs(v) < 1e-4:
        mantissa, exponent = f"{v:.2e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    digits = 2 - math.floor(math.log10(abs(v)))  # three significant digits
    return f"{v:.{max(3, digits)}f}"


def seconds(x, *, conv: Conventions = PLAIN) -> str:
    """A duration: 42.3 -> '42 s', 185 -> '3 min 05 s', 3720 -> '1 h 02 min'.

    Below ten seconds one decimal is kept ('4.2 s').
    """
    v = _number(x, "seconds")
    if not math.isfinite(v) or v < 0:
        return NOT_A_NUMBER
    unit = functools.partial(_unit, conv)
    if v < 9.95:
        return f"{v:.1f} {unit('s')}"
    total = int(round(v))
    if total < 60:
        return f"{total} {unit('s')}"
    if total < 3600:
        m, s = divmod(total, 60)
        return f"{m} {unit('min')} {s:02d} {unit('s')}"
    total_min = int(round(v / 60))
    h, m = divmod(total_min, 60)
    return f"{h} {unit('h')} {m:02d} {unit('min')}"


def integer(n) -> str:
    """A count with a thousands separator: 50000 -> '50,000'."""
    v = _number(n, "integer")
    if not math.isfinite(v) or v != int(v):
        raise ValueError(f"integer() expects a whole number, got {n!r}")
    return f"{int(v):,}"


def megabytes(n_bytes, places: int = 1) -> str:
    """A size in bytes as decimal megabytes: 12_345_678 -> '12.3 MB'."""
    v = _number(n_bytes, "megabytes")
    if not math.isfinite(v):
        return NOT_A_NUMBER
    return f"{v / 1e6:.{places}f} MB"


def real(x) -> str:
    """A setting such as a learning rate or a loss weight, as short as exact:
    25.0 -> '25', 0.5 -> '0.5', 0.0003 -> '3e-4', 1e-06 -> '1e-6'."""
    v = _number(x, "real")
    if not math.isfinite(v):
        return NOT_A_NUMBER
    if v == int(v) and abs(v) < 1e6:
        return str(int(v))
    if 1e-3 <= abs(v) < 1e6:
        return f"{v:.6g}"
    mantissa, exponent = f"{v:.6e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def timestamp(value: str) -> str:
    """An ISO-8601 time in UTC, to the minute: '2026-11-28T10:00:00Z' -> '2026-11-28 10:00 UTC'."""
    if not isinstance(value, str):
        raise TypeError(f"timestamp() expects an ISO-8601 string, got {value!r}")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M") + " UTC"


def is_one(x) -> bool:
    """Whether a count is exactly one: the Jinja test ``one``, for singular wording
    ("one epoch", "a connected graph") without a literal number in a template."""
    return _number(x, "is_one") == 1.0


# How each ``kind`` of a summary row or of a metric over seeds is written (see
# ``metric``, ``spread``); the kinds of ``metrics.METRICS``.
METRIC_KINDS: dict[str, Callable] = {"percent": percent, "auc": auc, "score": score,
                                     "rank": rank, "loss": loss}


FILTERS: dict[str, Callable] = {
    "percent": percent,
    "percent_points": percent_points,
    "whole_percent": whole_percent,
    "auc": auc,
    "score": score,
    "rank": rank,
    "metric": metric,
    "difference": difference,
    "spread": spread,
    "over_seeds": over_seeds,
    "loss": loss,
    "seconds": seconds,
    "integer": integer,
    "megabytes": megabytes,
    "real": real,
    "timestamp": timestamp,
}

# Jinja tests ({% if n is one %}).
TESTS: dict[str, Callable] = {"one": is_one}
