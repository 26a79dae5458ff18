"""The words of the report: one catalogue per language, templates/lang/<lang>.toml.

The structure template (templates/report.md.j2) holds no prose.  Every heading,
sentence, caption, table header and label is a message of the language's
catalogue, found by a semantic key (``probe.vs_control.higher``) and filled with
named placeholders (``{trained}``), so that each language keeps its own word order
and grammar.  A placeholder's value is a formatted number, a name from the context
or another message (an optional clause, a variant chosen by a comparison).

A catalogue's ``[language]`` table holds what is not a message: the direction, the
title, how names from the results are set in running text, the separator of a
list and the words of the units (``formatting.Conventions``).

The English catalogue is the reference: every other catalogue must have exactly its
keys and settings, each message with exactly its placeholders; loading one that
does not is a RenderError that names the file and the keys.  The document's
languages are the catalogues present, so a new language is one new file.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import paths
from .binding import path_of
from .errors import RenderError
from .formatting import UNITS, Conventions

REFERENCE = "en"
SETTINGS = "language"   # the table of settings; every other table holds messages
DIRECTIONS = ("ltr", "rtl")
# How a name from the results (profile, device, versions) is set in running text:
# as plain (escaped) text, or as inline code, which keeps its order in right-to-left text.
NAME_STYLES = {"plain": "md_escape", "code": "code"}
SETTING_KEYS = ("dir", "title", "names", "list_separator", "units")
# Messages written inside a YAML double-quoted string (the front matter), like the title.
YAML_KEYS = ("front.",)


def folder() -> Path:
    """Where the catalogues are (read when needed, so that a test can move it)."""
    return paths.TEMPLATES_DIR / "lang"


def languages() -> tuple[str, ...]:
    """The document's languages: one per catalogue, the reference first."""
    found = sorted(p.stem for p in folder().glob("*.toml"))
    if REFERENCE not in found:
        raise RenderError(f"catalogue: the reference catalogue {REFERENCE}.toml is missing "
                          f"from {folder()}")
    return (REFERENCE, *(lang for lang in found if lang != REFERENCE))


@dataclass(frozen=True)
class Catalogue:
    """One language's words: ``settings`` (the [language] table) and ``messages``
    (dotted key -> text with {placeholders})."""

    code: str
    path: Path
    settings: dict
    messages: dict[str, str]

    @property
    def dir(self) -> str:
        return self.settings["dir"]

    @property
    def title(self) -> str:
        return self.settings["title"]

    @property
    def conventions(self) -> Conventions:
        return Conventions(units=dict(self.settings["units"]), rtl=self.dir == "rtl")

    @property
    def name_filter(self) -> str:
        """The text filter that sets a name in running text (NAME_STYLES)."""
        return NAME_STYLES[self.settings["names"]]

    def say(self, key: str, **values) -> str:
        """The message ``key`` with its placeholders filled.  ``values`` must name
        exactly its placeholders, each a text already formatted (a number through a
        formatter, a name through a text filter, or another message)."""
        if key not in self.messages:
            raise RenderError(f"catalogue: {self.path.name} has no message {key!r}")
        wanted = placeholders(self.messages[key])
        if set(values) != wanted:
            raise RenderError(f"catalogue: the message {key!r} takes "
                              f"{_names(wanted)}; the template gave {_names(values)}")
        for name, value in values.items():
            if not isinstance(value, str) or path_of(value) is not None:
                raise RenderError(f"catalogue: {name!r} of the message {key!r} is "
                                  f"{value!r}, not formatted text: pass it through a "
                                  "formatter or a text filter")
        return self.messages[key].format_map(values)


def _names(names) -> str:
    return "{" + ", ".join(sorted(names)) + "}" if names else "no placeholders"


def placeholders(message: str) -> set[str]:
    """The named placeholders of a message ('{trained}'); '{{' and '}}' are braces."""
    return {field for _, field, _, _ in string.Formatter().parse(message) if field is not None}


def load(lang: str) -> Catalogue:
    """The catalogue of ``lang``, checked on its own and against the reference."""
    catalogue = _read(folder() / f"{lang}.toml", lang)
    if lang != REFERENCE:
        _check_against(catalogue, _read(folder() / f"{REFERENCE}.toml", REFERENCE))
    return catalogue


def load_all() -> dict[str, Catalogue]:
    """Every language's catalogue, the reference first."""
    return {lang: load(lang) for lang in languages()}


# ---------------------------------------------------------------- checks

def _read(path: Path, lang: str) -> Catalogue:
    if not path.is_file():
        raise RenderError(f"catalogue: no catalogue for the language {lang!r} ({path} is "
                          f"missing); the languages are {', '.join(languages())}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RenderError(f"catalogue: {path.name} is not valid TOML: {exc}") from exc
    settings = data.pop(SETTINGS, None)
    if not isinstance(settings, dict):
        raise RenderError(f"catalogue: {path.name} has no [{SETTINGS}] table")
    catalogue = Catalogue(lang, path, settings, _flatten(data, path))
    problems = _setting_problems(settings) + [
        problem for key, message in catalogue.messages.items()
        for problem in _message_problems(key, message)]
    _fail(path, problems)
    return catalogue


def _flatten(table: dict, path: Path, prefix: str = "") -> dict[str, str]:
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, path, f"{prefix}{key}."))
        elif isinstance(value, str):
            out[prefix + key] = value
        else:
            raise RenderError(f"catalogue: {path.name}: {prefix}{key} is {value!r}, "
                              "not a message (a string)")
    return out


def _setting_problems(settings: dict) -> list[str]:
    problems = [f"[{SETTINGS}] lacks {key}" for key in SETTING_KEYS if key not in settings]
    problems += [f"[{SETTINGS}] has an unknown setting {key}" for key in settings
                 if key not in SETTING_KEYS]
    if problems:
        return problems
    if settings["dir"] not in DIRECTIONS:
        problems.append(f"dir is {settings['dir']!r}; expected one of {', '.join(DIRECTIONS)}")
    if settings["names"] not in NAME_STYLES:
        problems.append(f"names is {settings['names']!r}; expected one of "
                        f"{', '.join(NAME_STYLES)}")
    units = settings["units"]
    if not isinstance(units, dict) or set(units) != set(UNITS):
        problems.append(f"units must give a word for each of {', '.join(UNITS)}")
    if not all(isinstance(settings[k], str) for k in ("title", "list_separator")):
        return problems + ["title and list_separator must be strings"]
    return problems + _yaml_problems("title", settings["title"])


def _yaml_problems(what: str, text: str) -> list[str]:
    """``text`` is written inside a YAML double-quoted string (the front matter)."""
    if any(c in text for c in ('"', "\\", "\n")):
        return [f"{what}: no double quote, backslash or line break (it is written inside "
                "a YAML string)"]
    return []


def _message_problems(key: str, message: str) -> list[str]:
    """A placeholder is a plain name, used once (numbers.json counts each number as
    often as the document shows it); a message of YAML_KEYS is YAML-safe."""
    try:
        fields = list(string.Formatter().parse(message))
    except ValueError as exc:
        return [f"{key}: {exc} (write a brace as {{{{ or }}}})"]
    problems = []
    names = [field for _, field, _, _ in fields if field is not None]
    for _, field, spec, conversion in fields:
        if field is not None and (not field.isidentifier() or spec or conversion):
            problems.append(f"{key}: the placeholder {{{field}}} must be a plain name, "
                            "without a format or a conversion")
    problems += [f"{key}: the placeholder {{{name}}} appears more than once"
                 for name in sorted(set(names)) if names.count(name) > 1]
    return problems + (_yaml_problems(key, message) if key.startswith(YAML_KEYS) else [])


def _check_against(catalogue: Catalogue, reference: Catalogue) -> None:
    """The same keys as the reference, each with the same placeholders (the settings
    are the same everywhere: SETTING_KEYS, UNITS)."""
    mine, theirs = catalogue.messages, reference.messages
    problems = [f"{key}: missing (it is in {reference.path.name})"
                 for key in theirs if key not in mine]
    problems += [f"{key}: not in {reference.path.name}" for key in mine if key not in theirs]
    problems += [f"{key}: placeholders {_names(placeholders(mine[key]))}, but "
                 f"{reference.path.name} has {_names(placeholders(theirs[key]))}"
                 for key in theirs if key in mine
                 and placeholders(mine[key]) != placeholders(theirs[key])]
    _fail(catalogue.path, problems)


def _fail(path: Path, problems: list[str]) -> None:
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20
                                 else [])
        raise RenderError(f"catalogue: {path.name}: " + "; ".join(shown))
