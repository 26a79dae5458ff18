"""Context dict -> the bilingual document: markdown/Quarto sources, HTML and PDF.

``render_markdown`` fills one language's Jinja template (StrictUndefined, the
formatters of :mod:`vicreg_report.formatting` as filters).  ``build_document``
writes a self-contained document project into a folder: the Quarto project
files from ``report/``, ``report.en.qmd`` and ``report.he.qmd``, and from them,
with pandoc and typst (no Quarto needed),

    vicreg-report.en.html  vicreg-report.en.pdf
    vicreg-report.he.html  vicreg-report.he.pdf
    index.html             (links to the four, in both languages)
    numbers.json           (every number written, with the context path it came from)

Numbers are bound to their source: before a template is filled, every leaf of
the context becomes a value that knows its path (``bind``: ``probes.q1.test_acc``);
arithmetic in a template keeps the paths (``(a - b)``), and every filter records
what it wrote and from which path into a ``NumberRegistry``.  ``numbers.json`` is
that registry; tests/test_binding.py checks that every number in the rendered
HTML and PDF text is one of its entries.

Every output is first written under a temporary name and renamed into place
only once all of them are built, so a failure leaves no partial file under a
final name (and an earlier complete set untouched).
"""

from __future__ import annotations

import functools
import json
import operator
import os
import re
import shutil
import subprocess
import tempfile
from datetime import datetime, timezone
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Callable

import jinja2

from .errors import VicregError
from .formatting import FILTERS, TESTS, TOLERANCES, compare
from .metrics import BY_NAME

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES_DIR = REPO_ROOT / "templates"
REPORT_DIR = REPO_ROOT / "report"

LANGUAGES = ("en", "he")
OUTPUT_STEM = "vicreg-report"
# Files of the document project copied from report/ into the output folder.
PROJECT_FILES = ("_quarto.yml", "styles.css", "template.typ", "filters/rtl.lua",
                 "filters/callout.lua")
LUA_FILTERS = ("filters/rtl.lua", "filters/callout.lua")
NUMBERS_FILE = "numbers.json"

# Where each metric of metrics.METRICS stands in the context (the first seed's value):
# the document's mean ± std over seeds is ``ctx["seeds"][name]``, its single-seed
# counterpart the value at this path.  final_train_loss_q5 is not in the context.
METRIC_PATHS: dict[str, tuple] = {
    **{f"probe_{e}": ("probes", e, "test_acc") for e in ("q1", "q4", "q5", "random_init")},
    "final_train_loss_q1": ("training", "last", "total"),
    "final_train_loss_q4": ("q4", "last", "total"),
    "final_test_loss_q1": ("training", "test_last", "total"),
    "final_test_loss_q4": ("q4", "test_last", "total"),
    **{f"{name}_{e}": ("q2", e, key) for e in ("q1", "q4", "q5", "random_init")
       for name, key in (("pca_knn", "pca_knn"), ("tsne_knn", "tsne_knn"),
                         ("effective_rank", "effective_rank"))},
    **{f"variance_top2_{e}": ("q2", e, "top2") for e in ("q1", "q4")},
    **{f"q6_{v}": ("q6", v, "test_acc") for v in ("raw_pixels", "random_cnn", "q1",
                                                   "random_init")},
    **{f"same_class_{e}": ("q7", e, "same_class") for e in ("q1", "q5")},
    **{f"auc_{e}": ("anomaly", e, "auc") for e in ("q1", "q5", "random_init")},
    **{f"{name}_{e}": ("clustering", e, key) for e in ("q1", "q5", "random_init")
       for name, key in (("silhouette", "silhouette"), ("ari", "ari"), ("nmi", "nmi"))},
}
assert set(METRIC_PATHS) <= set(BY_NAME), set(METRIC_PATHS) - set(BY_NAME)

# The sections of the document, as the templates name them (stale_sections).
SECTIONS = ("training", "probe", "q2", "q4", "q5", "q6", "q7", "anomaly", "clustering")

_TERMS = {"invariance": None, "variance": None, "covariance": None, "total": None}
# The shape of the context both templates read: a key maps to its sub-keys, or
# to None for a leaf.  ``validate_context`` names every missing key by its path.
CONTEXT_SCHEMA: dict[str, Any] = {
    "meta": {"title_en": None, "title_he": None, "generated": None, "commit": None,
             "profile": None},
    "setup": {
        "data_source": None, "data_fingerprint": None, "data_verified": None,
        "profile": {k: None for k in (
            "name", "arch", "width", "train_images", "test_images", "epochs", "batch_size",
            "lr", "weight_decay", "lam", "mu", "nu", "gamma", "eps", "seed", "config_hash")},
        "device": None, "python": None, "torch": None, "torchvision": None,
        "wall_time": {"train_s": None, "probe_s": None, "experiments_s": None, "total_s": None},
        "seeds": {"n": None, "first": None, "several": None, "ids": None},
    },
    "training": {"figure": None, "steps": None, "epochs": None, "first": _TERMS,
                 "last": _TERMS, "test_first": _TERMS, "test_last": _TERMS},
    "probe": {
        "trained": {"test_acc": None, "train_acc": None},
        "random_init": {"test_acc": None, "train_acc": None},
        "original": {"test_acc": None},
        "course_threshold": None,
        "settings": {k: None for k in ("epochs", "lr", "batch_size", "train_images",
                                       "test_images")},
    },
    "probes": {
        "classes": None, "groups": {"vehicles": None, "animals": None}, "group_of": None,
        **{enc: {k: None for k in ("test_acc", "train_acc", "per_class", "vehicles", "animals")}
           for enc in ("q1", "q4", "q5", "random_init")},
    },
    "q2": {
        "figure": None, "points": None, "knn_k": None, "knn_folds": None, "tsne_method": None,
        "perplexity": None,
        **{enc: {k: None for k in ("pca_knn", "tsne_knn", "pca_silhouette", "tsne_silhouette",
                                   "pca_ratio", "tsne_vehicles", "tsne_animals",
                                   "effective_rank", "top1", "top2", "top10", "dimensions")}
           for enc in ("q1", "q4", "q5", "random_init")},
    },
    "q4": {"figure_maps": None, "figure_spectra": None, "figure_curves": None, "probe": None,
           "last": _TERMS},
    "q5": {"epochs": None, "neighbours": None, "steps": None, "probe": None, "other_runs": None},
    "q6": {
        "figure": None, "images": None, "components": None, "neighbors": None,
        "train_size": None, "test_size": None, "chance": None,
        **{v: {"test_acc": None, "train_acc": None, "graph_components": None,
               "feature_dim": None} for v in ("raw_pixels", "random_cnn")},
        **{enc: {"test_acc": None, "train_acc": None} for enc in ("q1", "random_init")},
    },
    "q7": {
        "figure_q1": None, "figure_q5": None, "dataset_grey": None, "dataset_saturation": None,
        "grey_threshold": None,
        **{enc: {k: None for k in ("same_class", "animal_other_animal", "animal_vehicle",
                                   "farthest_grey", "farthest_saturation", "farthest_distinct",
                                   "k", "mixing_k")}
           for enc in ("q1", "q5")},
    },
    "anomaly": {
        "figure_roc": None, "figure_top": None, "k": None, "top": None, "wide_top": None,
        **{enc: {"auc": None, "top_normal": None, "top_anomalies": None,
                 "top_digits": [{"digit": None, "count": None}], "wide_normal": None,
                 "wide_digits": [{"digit": None, "count": None}]}
           for enc in ("q1", "q5", "random_init")},
    },
    "clustering": {
        "figure": None, "clusters": None,
        **{enc: {k: None for k in ("silhouette", "ari", "nmi", "sample", "dimensions")}
           for enc in ("q1", "q5", "random_init")},
    },
    "original": {k: None for k in ("q3_probe_acc", "q4_probe_acc", "q5_probe_acc",
                                   "q6_probe_acc_raw_pixels", "anomaly_auc_q1", "anomaly_auc_q5",
                                   "silhouette_q1", "silhouette_q5")},
    # a one-element list: every item of the context's list must have these keys
    "claims": [{"id": None, "supported": None, "values": None}],
    "summary": [{"key": None, "kind": None, "this": None, "control": None, "original": None,
                 "this_seeds": None, "control_seeds": None}],
    # metrics.across_seeds over the seeds shown, for every metric the context holds
    "seeds": {name: {"mean": None, "std": None, "n": None, "values": None}
              for name in METRIC_PATHS},
    "stale": [{"stage": None, "seed": None, "why": None, "reason": None, "old_key": None,
               "new_key": None}],
    "stale_sections": {section: None for section in SECTIONS},
    "provenance": {"common": None, "varying": None,
                   "rows": [{"stage": None, "wall_time_s": None, "stage_key": None}],
                   "total_s": None, "seeds": None, "seeds_known": None, "command": None},
}

# Every figure the document shows: a path (relative to the markdown file) in the context.
FIGURE_KEYS: tuple[tuple[str, str], ...] = (
    ("training", "figure"), ("q2", "figure"), ("q4", "figure_maps"),
    ("q4", "figure_spectra"), ("q4", "figure_curves"), ("q6", "figure"),
    ("q7", "figure_q1"), ("q7", "figure_q5"), ("anomaly", "figure_roc"),
    ("anomaly", "figure_top"), ("clustering", "figure"),
)


_UMASK = os.umask(0o022)
os.umask(_UMASK)


class RenderError(VicregError, RuntimeError):
    """Building the document failed; the message names the tool and the step."""


# ---------------------------------------------------------------- text filters

_MD_SPECIAL = set("\\`*_{}[]<>#$^~@|")


def md_escape(value) -> str:
    """Plain text for markdown: every character pandoc could read as markup escaped."""
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in str(value))


def code(value) -> str:
    """Inline code, with a fence longer than any run of backticks inside."""
    text = str(value)
    longest = run = 0
    for c in text:
        run = run + 1 if c == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def yaml_escape(value) -> str:
    """Text for the inside of a YAML double-quoted scalar (see ``yaml_string``)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def yaml_string(value) -> str:
    """A YAML double-quoted scalar (also read by pandoc as a markdown string)."""
    return f'"{yaml_escape(value)}"'


def text(value) -> str:
    """A context string as it is (for HTML templates, which escape it themselves)."""
    return str(value)


TEXT_FILTERS: dict[str, Callable] = {"md_escape": md_escape, "code": code,
                                     "yaml_string": yaml_string, "yaml_escape": yaml_escape,
                                     "text": text}


# ---------------------------------------------------------------- bound numbers

def path_of(value) -> str | None:
    """The context path a bound value came from; None for anything else."""
    return getattr(value, "_path", None)


def _operand(value) -> str:
    path = path_of(value)
    return path if path is not None else repr(value)


def _derived(result, path: str):
    if isinstance(result, bool) or not isinstance(result, Real):
        return result
    if isinstance(result, Integral):
        return BoundInt(result, path)
    return BoundFloat(result, path)


def _arithmetic(op: Callable, symbol: str, identity=None):
    """``op`` for a bound number: the result is bound to '(left symbol right)'.
    Adding a plain zero (what Jinja's ``sum`` starts from) keeps the operand's path."""
    def plain(x):
        return x._plain() if path_of(x) is not None else x

    def forward(self, other):
        if isinstance(other, bool) or not isinstance(other, Real):
            return NotImplemented
        if identity is not None and path_of(other) is None and other == identity:
            return self
        return _derived(op(self._plain(), plain(other)),
                        f"({self._path} {symbol} {_operand(other)})")

    def backward(self, other):
        if isinstance(other, bool) or not isinstance(other, Real):
            return NotImplemented
        if identity is not None and path_of(other) is None and other == identity:
            return self
        return _derived(op(plain(other), self._plain()),
                        f"({_operand(other)} {symbol} {self._path})")
    return forward, backward


class _BoundNumber:
    """Arithmetic that keeps the context path (mixed into BoundInt and BoundFloat)."""

    __add__, __radd__ = _arithmetic(operator.add, "+", identity=0)
    __sub__, __rsub__ = _arithmetic(operator.sub, "-")
    __mul__, __rmul__ = _arithmetic(operator.mul, "*")
    __truediv__, __rtruediv__ = _arithmetic(operator.truediv, "/")

    def __neg__(self):
        return _derived(-self._plain(), f"-{self._path}")

    def __abs__(self):
        return _derived(abs(self._plain()), f"abs({self._path})")


class BoundFloat(_BoundNumber, float):
    """A float of the context that knows its path."""

    def __new__(cls, value, path: str):
        obj = super().__new__(cls, value)
        obj._path = path
        return obj

    def _plain(self) -> float:
        return float(self)

    __hash__ = float.__hash__


class BoundInt(_BoundNumber, int):
    """An integer of the context that knows its path."""

    def __new__(cls, value, path: str):
        obj = super().__new__(cls, value)
        obj._path = path
        return obj

    def _plain(self) -> int:
        return int(self)

    __hash__ = int.__hash__


class BoundStr(str):
    """A string of the context that knows its path."""

    def __new__(cls, value, path: str):
        obj = super().__new__(cls, value)
        obj._path = path
        return obj


class BoundList(list):
    """A list of the context (of bound items) that knows its path."""

    def __init__(self, items, path: str):
        super().__init__(items)
        self._path = path


class BoundDict(dict):
    """A dict of the context (of bound values) that knows its path."""

    def __init__(self, items, path: str):
        super().__init__(items)
        self._path = path


def bind(value, path: str = ""):
    """``value`` with every leaf bound to its dotted path ('probes.q1.per_class.3')."""
    join = (lambda key: f"{path}.{key}" if path else str(key))  # noqa: E731
    if isinstance(value, dict):
        return BoundDict({k: bind(v, join(k)) for k, v in value.items()}, path)
    if isinstance(value, (list, tuple)):
        return BoundList([bind(v, join(i)) for i, v in enumerate(value)], path)
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):   # numpy
        return bind(value.tolist(), path)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Integral):
        return BoundInt(int(value), path)
    if isinstance(value, Real):
        return BoundFloat(float(value), path)
    if isinstance(value, str):
        return BoundStr(value, path)
    return value


def _plain_value(value):
    """A bound value as plain JSON data."""
    if isinstance(value, dict):
        return {str(k): _plain_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    return str(value)


_DIGIT = re.compile(r"\d")


class NumberRegistry(list):
    """What the filters of one rendering wrote: {text, path, value, lang, filter} each,
    ``text`` as the reader sees it and ``path`` the context path of its source (several
    joined by ', '; None if the value did not come from the context)."""

    def record(self, name: str, shown: str, args: tuple, kwargs: dict, lang: str) -> None:
        if not _DIGIT.search(shown):
            return
        sources = [a for a in (*args, *kwargs.values())
                   if path_of(a) is not None
                   and (not isinstance(a, str) or _DIGIT.search(a))]
        if not sources:    # a literal of the template, or a value computed from one
            path, value = None, _plain_value(args[0]) if args else None
        elif len(sources) == 1:
            path, value = path_of(sources[0]), _plain_value(sources[0])
        else:
            path = ", ".join(path_of(a) for a in sources)
            value = [_plain_value(a) for a in sources]
        self.append({"text": shown, "path": path, "value": value, "lang": lang,
                     "filter": name})


def _recording(name: str, func: Callable, registry: NumberRegistry, lang: str) -> Callable:
    """``func`` as a filter that records what it wrote (text filters: the plain text
    the reader sees, not the markup around it)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        out = func(*args, **kwargs)
        shown = str(args[0]) if name in TEXT_FILTERS and args else out
        registry.record(name, shown, args, kwargs, lang)
        return out
    return wrapper


def _bound_length(value):
    """Jinja's ``length``, bound to 'len(path)' for a bound list, dict or string."""
    n = len(value)
    path = path_of(value)
    return BoundInt(n, f"len({path})") if path is not None else n


# ---------------------------------------------------------------- markdown

def _strict(func: Callable) -> Callable:
    """``func`` as a template helper that raises Jinja's own UndefinedError (naming
    the missing key) when handed an undefined value, instead of a TypeError."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for value in (*args, *kwargs.values()):
            if isinstance(value, jinja2.Undefined):
                value._fail_with_undefined_error()
        return func(*args, **kwargs)
    return wrapper


def make_environment(autoescape: bool = False, registry: NumberRegistry | None = None,
                     lang: str = "en") -> jinja2.Environment:
    """The Jinja environment of the report templates: StrictUndefined, the formatters
    as filters, the test ``one``, ``compare`` and the named tolerances ``TOL`` as globals.
    Template comments are written ``{## ... ##}``.  With a ``registry``, every filter
    records what it writes (tagged ``lang``)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # "{#" opens pandoc attributes ({#sec-setup}), so Jinja comments are {## ... ##}
        comment_start_string="{##",
        comment_end_string="##}",
    )
    filters = {name: f for name, f in {**FILTERS, **TEXT_FILTERS}.items()}
    if registry is not None:
        filters = {name: f if name == "compare" else _recording(name, f, registry, lang)
                   for name, f in filters.items()}
    env.filters.update({name: _strict(f) for name, f in filters.items()})
    env.filters.update(length=_bound_length, count=_bound_length)
    env.tests.update({name: _strict(f) for name, f in TESTS.items()})
    env.globals.update(compare=_strict(compare),
                       TOL=bind(dict(TOLERANCES), "formatting.TOLERANCES"))
    return env


def missing_keys(context: dict, schema: dict | None = None, prefix: str = "") -> list[str]:
    """Dotted paths of the keys ``schema`` requires that ``context`` lacks.

    A schema value that is a one-element list ``[item_schema]`` asks for a list
    whose every item has the keys of ``item_schema`` (paths such as ``claims[2].id``).
    """
    schema = CONTEXT_SCHEMA if schema is None else schema
    missing = []
    for key, sub in schema.items():
        path = f"{prefix}{key}"
        if not isinstance(context, dict) or key not in context:
            missing.append(path)
        elif isinstance(sub, list):
            value = context[key]
            if not isinstance(value, list):
                missing.append(f"{path}[]")
            else:
                for i, item in enumerate(value):
                    missing.extend(missing_keys(item, sub[0], f"{path}[{i}]."))
        elif sub is not None:
            value = context[key]
            if not isinstance(value, dict):
                missing.extend(f"{path}.{k}" for k in sub)
            else:
                missing.extend(missing_keys(value, sub, path + "."))
    return missing


def validate_context(context: dict) -> None:
    """Raise RenderError naming every key of CONTEXT_SCHEMA the context lacks."""
    missing = missing_keys(context)
    if missing:
        raise RenderError("jinja2: the report context lacks "
                          + ", ".join(missing)
                          + ". Build it with vicreg_report.report_context.build_context.")


def _template_location(exc: BaseException) -> str:
    """'report.he.md.j2 line 42' from a Jinja exception's traceback, if it has one."""
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith(".j2"):
            where = f"{Path(name).name} line {tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _render_template(name: str, variables: dict, autoescape: bool = False,
                     registry: NumberRegistry | None = None, lang: str = "en") -> str:
    env = make_environment(autoescape=autoescape, registry=registry, lang=lang)
    try:
        return env.get_template(name).render(**bind(variables))
    except jinja2.UndefinedError as exc:
        where = _template_location(exc) or name
        raise RenderError(f"jinja2: rendering {where}: a value the template needs is missing "
                          f"from the context ({exc.message})") from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"jinja2: rendering {name}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        where = _template_location(exc) or name
        raise RenderError(f"jinja2: rendering {where}: {exc}") from exc


def render_markdown(lang: str, context: dict, registry: NumberRegistry | None = None) -> str:
    """One language's report as pandoc markdown (a valid Quarto document); with a
    ``registry``, every number written is recorded there with its context path."""
    if lang not in LANGUAGES:
        raise RenderError(f"jinja2: no report template for language {lang!r}; "
                          f"expected one of {', '.join(LANGUAGES)}")
    validate_context(context)
    return _render_template(f"report.{lang}.md.j2", context, registry=registry, lang=lang)


# ---------------------------------------------------------------- files

def _temp_path(final: Path) -> Path:
    """An empty file beside ``final``, readable like any new file (mkstemp makes 0600)."""
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)
    return Path(tmp)


def _write_atomic(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(path)
    try:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _copy_project(out_dir: Path) -> None:
    for rel in PROJECT_FILES:
        src = REPORT_DIR / rel
        if not src.is_file():
            raise RenderError(f"copy: the document project file {src} is missing")
        _write_atomic(out_dir / rel, src.read_bytes())


# ---------------------------------------------------------------- tools

def _pandoc(source: Path, to: str, output: Path, extra_args: list[str], cwd: Path) -> None:
    import pypandoc

    try:
        pypandoc.convert_file(str(source), to, format="markdown", outputfile=str(output),
                              extra_args=extra_args, cworkdir=str(cwd))
    except (RuntimeError, OSError) as exc:
        raise RenderError(f"pandoc: converting {source.name} to {to} failed: {exc}") from exc
    if not output.is_file() or output.stat().st_size == 0:
        raise RenderError(f"pandoc: converting {source.name} to {to} produced no output")


def _unix_time(iso: str) -> int | None:
    """Seconds since the epoch of an ISO-8601 time (UTC if no zone); None if unreadable."""
    try:
        t = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp())


def _typst_pdf(typ: Path, root: Path, timestamp: int | None = None) -> bytes:
    """Compile with typst's embedded fonts only, so the PDF is the same on every
    machine; ``timestamp`` (the report's generation time) fixes the PDF dates."""
    import typst

    try:
        pdf, warnings = typst.compile_with_warnings(
            str(typ), root=str(root), ignore_system_fonts=True, timestamp=timestamp)
    except Exception as exc:  # typst.TypstError and anything the binding raises
        raise RenderError(f"typst: compiling {typ.name} to PDF failed: {exc}") from exc
    if not pdf:
        raise RenderError(f"typst: compiling {typ.name} to PDF produced no output")
    fonts = [str(w) for w in warnings or [] if "font" in str(w).lower()]
    if fonts:
        raise RenderError(f"typst: compiling {typ.name}: font problem: {'; '.join(fonts)}")
    return pdf


def _check_figure(context: dict, out_dir: Path) -> None:
    """Every figure of FIGURE_KEYS must exist under ``out_dir``; the error names all missing."""
    missing = [str(out_dir / context[section][key]) for section, key in FIGURE_KEYS
               if not (out_dir / context[section][key]).is_file()]
    if missing:
        raise RenderError(f"render: the figure{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(missing)} do{'' if len(missing) > 1 else 'es'} not exist; "
                          "put the figures under the output folder before rendering")


def output_names() -> dict[str, str]:
    """Keys of ``build_document``'s result -> file names in the output folder."""
    names = {}
    for lang in LANGUAGES:
        names[f"html_{lang}"] = f"{OUTPUT_STEM}.{lang}.html"
        names[f"pdf_{lang}"] = f"{OUTPUT_STEM}.{lang}.pdf"
    names["index"] = "index.html"
    return names


def build_document(context: dict, out_dir: Path) -> dict[str, Path]:
    """Write the document project and the HTML and PDF documents into ``out_dir``.

    Returns {"html_en", "pdf_en", "html_he", "pdf_he", "index", "numbers"} -> path
    (``numbers``: numbers.json, every number written with its context path).  The
    figures named in the context (FIGURE_KEYS) must already exist, relative to
    ``out_dir``.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    validate_context(context)
    _check_figure(context, out_dir)
    # All templates first: a template error writes nothing.
    registry = NumberRegistry()
    markdown = {lang: render_markdown(lang, context, registry) for lang in LANGUAGES}
    names = output_names()
    index = _render_template("index.html.j2", {"meta": context["meta"], "files": names},
                             autoescape=True, registry=registry, lang="index")
    numbers = json.dumps(registry, ensure_ascii=False, indent=1) + "\n"

    created = _unix_time(context["meta"]["generated"])

    _copy_project(out_dir)
    sources = {lang: _write_atomic(out_dir / f"report.{lang}.qmd", text)
               for lang, text in markdown.items()}

    staged: dict[str, Path] = {}   # final name -> temporary file holding it
    try:
        for lang, source in sources.items():
            html_tmp = _temp_path(out_dir / names[f"html_{lang}"])
            staged[names[f"html_{lang}"]] = html_tmp
            _pandoc(source, "html5", html_tmp, [
                "--standalone", "--embed-resources", "--css=styles.css",
                f"--resource-path={out_dir}", f"--metadata=lang:{lang}",
                f"--metadata=dir:{'rtl' if lang == 'he' else 'ltr'}",
            ], cwd=out_dir)

            typ = out_dir / f"{OUTPUT_STEM}.{lang}.typ"
            typ_tmp = _temp_path(typ)
            staged[typ.name] = typ_tmp
            _pandoc(source, "typst", typ_tmp, [
                "--standalone", "--template=template.typ",
                *(f"--lua-filter={f}" for f in LUA_FILTERS),
            ], cwd=out_dir)

            pdf_tmp = _temp_path(out_dir / names[f"pdf_{lang}"])
            staged[names[f"pdf_{lang}"]] = pdf_tmp
            pdf_tmp.write_bytes(_typst_pdf(typ_tmp, out_dir, created))

        index_tmp = _temp_path(out_dir / names["index"])
        staged[names["index"]] = index_tmp
        index_tmp.write_text(index, encoding="utf-8")

        numbers_tmp = _temp_path(out_dir / NUMBERS_FILE)
        staged[NUMBERS_FILE] = numbers_tmp
        numbers_tmp.write_text(numbers, encoding="utf-8")

        for final, tmp in staged.items():
            os.replace(tmp, out_dir / final)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    return {**{key: out_dir / name for key, name in names.items()},
            "numbers": out_dir / NUMBERS_FILE}


# ---------------------------------------------------------------- quarto

def quarto_available() -> bool:
    """Whether the ``quarto`` command is on PATH."""
    return shutil.which("quarto") is not None


def render_with_quarto(out_dir: Path, timeout_s: float = 600) -> dict[str, Path]:
    """Render a folder written by ``build_document`` with ``quarto render``.

    Quarto writes report.<lang>.html and report.<lang>.pdf; they are renamed to
    the same names ``build_document`` uses.
    """
    out_dir = Path(out_dir).resolve()
    quarto = shutil.which("quarto")
    if quarto is None:
        raise RenderError("quarto: the quarto command is not on PATH")
    try:
        subprocess.run([quarto, "render"], cwd=out_dir, check=True, capture_output=True,
                       text=True, timeout=timeout_s)
    except subprocess.CalledProcessError as exc:
        raise RenderError(f"quarto: `quarto render` in {out_dir} failed "
                          f"(exit {exc.returncode}): {exc.stderr.strip()[-2000:]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"quarto: `quarto render` in {out_dir} ran past {timeout_s} s") from exc
    outputs = {}
    for lang in LANGUAGES:
        for ext in ("html", "pdf"):
            produced = out_dir / f"report.{lang}.{ext}"
            if not produced.is_file():
                raise RenderError(f"quarto: `quarto render` did not produce {produced.name}")
            final = out_dir / f"{OUTPUT_STEM}.{lang}.{ext}"
            os.replace(produced, final)
            outputs[f"{ext}_{lang}"] = final
    return outputs
