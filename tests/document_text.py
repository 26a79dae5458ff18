"""Reading the rendered documents back: the HTML source, the text a reader sees, the
PDF's text.  Not a test module: the render and binding tests import it."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from pypdf import PdfReader

MARKS = dict.fromkeys(map(ord, "\u200e\u200f"), None)   # bidi marks: invisible


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def html_source(path: Path) -> str:
    """An HTML file as it is, its white space squashed (for matching tags)."""
    return squash(Path(path).read_text(encoding="utf-8"))


class _BodyText(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.skip, self.body = [], 0, False

    def handle_starttag(self, tag, attrs):
        self.body = self.body or tag == "body"
        self.skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "script")

    def handle_data(self, data):
        if self.body and not self.skip:
            self.parts.append(data)


def html_text(path: Path) -> str:
    """The text of an HTML document's body (what a reader sees)."""
    parser = _BodyText()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    return " ".join(parser.parts)


def pdf_text(path: Path) -> str:
    """The PDF's text as pypdf extracts it, page after page."""
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def pdf_pages(path: Path) -> list[str]:
    """Each page's text.  Pieces that typst set as one run (same position) are joined
    as they are; separate runs (cells, lines, words set apart) with a space."""
    pages = []
    for page in PdfReader(path).pages:
        parts, last = [], [None]

        def visit(text, cm, tm, font, size):
            if not text.strip():
                parts.append(" " if text else "")
                return
            if tuple(cm) != last[0]:
                parts.append(" ")
            last[0] = tuple(cm)
            parts.append(text)

        page.extract_text(visitor_text=visit)
        pages.append("".join(parts).translate(MARKS))
    return pages
