"""Text from the context, made safe for where it lands: markdown, YAML, HTML.

These are Jinja filters for strings (names, versions, paths, hashes); numbers go
through :mod:`vicreg_report.formatting` instead.
"""

from __future__ import annotations

from typing import Callable

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
