"""The Jinja environment of the report templates.

StrictUndefined (a missing key is an error, never an empty string); the formatters
of :mod:`vicreg_report.formatting` and the text filters of
:mod:`vicreg_report.escaping` as filters, each recording what it writes when given a
registry; for a language, its catalogue:
``msg`` (a message), ``language`` (code, dir, title), the filters ``name``,
``class_name`` and ``listed``, ``rule`` (a table's separator line, aligned for the
direction) and ``sections`` (the experiments' sections, in the registry's order: the
structure includes sections/<section>.md.j2 for each).  Template comments are written
``{## ... ##}``, because ``{#`` opens pandoc attributes (``{#sec-setup}``).  An error
names the template and its line.
"""

from __future__ import annotations

import functools
import inspect
import re
from pathlib import Path
from typing import Callable

import jinja2

from . import paths
from .binding import NumberRegistry, bind, bound_length, recording
from .catalogue import Catalogue
from .errors import RenderError
from .escaping import TEXT_FILTERS
from .experiments import sections
from .formatting import FILTERS, PLAIN, TESTS

INDEX_TAG = "index"   # numbers.json's "lang" of what the landing page writes


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


def _filters(catalogue: Catalogue | None, registry: NumberRegistry | None) -> dict:
    """The formatters and text filters, with the language's conventions and, given a
    registry, recording what they write."""
    conv = catalogue.conventions if catalogue else PLAIN
    tag = catalogue.code if catalogue else INDEX_TAG
    out = {}
    for name, func in {**FILTERS, **TEXT_FILTERS}.items():
        if "conv" in inspect.signature(func).parameters:
            func = functools.partial(func, conv=conv)
        if registry is not None:
            func = recording(name, func, registry, tag, text=name in TEXT_FILTERS)
        out[name] = _strict(func)
    return out


def rule(spec: str, direction: str) -> str:
    """A pipe table's separator line, written as for left-to-right text (':---' left,
    '---:' right).  Right to left, every column is right-aligned; each keeps its
    dashes, from which pandoc reads the relative column widths of a wide table."""
    return re.sub(r":?(-+):?", r"\1:", spec) if direction == "rtl" else spec


def _language_helpers(catalogue: Catalogue, filters: dict) -> tuple[dict, dict]:
    """(filters, globals) that a catalogue adds."""
    def class_name(name):
        """A class as the catalogue names it; a class it does not know, as the data does."""
        key = f"classes.{name}"
        return catalogue.messages[key] if key in catalogue.messages else filters["md_escape"](name)

    def listed(items):
        """Texts as the language lists them ('61.23%, 48.12%')."""
        return catalogue.settings["list_separator"].join(items)

    return ({"name": filters[catalogue.name_filter], "class_name": _strict(class_name),
             "listed": _strict(listed)},
            {"msg": _strict(catalogue.say), "language": catalogue,
             "rule": functools.partial(rule, direction=catalogue.dir), "sections": sections()})


def make_environment(catalogue: Catalogue | None = None, *, autoescape: bool = False,
                     registry: NumberRegistry | None = None) -> jinja2.Environment:
    """The environment of the report templates, for the language of ``catalogue`` (none:
    the landing page, which reads every catalogue it is given).  With a ``registry``,
    every filter records what it writes, tagged with the language's code ('index' for
    the landing page)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(paths.TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        comment_start_string="{##",
        comment_end_string="##}",
    )
    filters = _filters(catalogue, registry)
    env.filters.update(filters)
    env.filters.update(length=bound_length, count=bound_length)
    env.tests.update({name: _strict(f) for name, f in TESTS.items()})
    if catalogue is not None:
        more_filters, more_globals = _language_helpers(catalogue, filters)
        env.filters.update(more_filters)
        env.globals.update(more_globals)
    return env


def _template_location(exc: BaseException) -> str:
    """'report.md.j2 line 42' from an exception's traceback, if it passed a template."""
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith(".j2"):
            where = f"{Path(name).name} line {tb.tb_lineno}"
        tb = tb.tb_next
    return where


def render_template(env: jinja2.Environment, name: str, variables: dict) -> str:
    """Template ``name`` filled with ``variables``, every leaf bound to its path; any
    failure is a RenderError that names the template line."""
    try:
        return env.get_template(name).render(**bind(variables))
    except jinja2.UndefinedError as exc:
        where = _template_location(exc) or name
        raise RenderError(f"jinja2: rendering {where}: a value the template needs is missing "
                          f"from the context ({exc.message})") from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"jinja2: rendering {name}: {exc}") from exc
    except (RenderError, TypeError, ValueError) as exc:
        where = _template_location(exc) or name
        raise RenderError(f"jinja2: rendering {where}: {exc}") from exc
