"""Every number in the document is bound to the result field it came from.

``render.build_document`` writes ``numbers.json``: every text a filter wrote, with
the context path of its source.  The checks here read the rendered HTML and PDF
text back and require every number in it to be one of those texts (counted: a
number may appear as often as it was written).  What else may carry a digit is a
short explicit list: names (CIFAR-10, ResNet-18, ICLR 2022, SHA-256), the
question labels Q1...Q7 and, in the PDF, the numbering typst adds itself (pages,
"Table n", "Figure n", the numbered list of claims).  A second check reads the
templates with Jinja's own lexer: no number literal in an expression, no digits
in the template text outside names and identifiers, and none in a catalogue's
messages either.

The end-to-end tests take the shared smoke study (seed 0, conftest.py), run seed 1
beside it and render both, then render seed 0 again from saved results after a
stage's code "changed" (stale results).
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from pypdf import PdfReader

from document_text import MARKS, html_text, pdf_pages
from sample_context import derive, make_context, several_seeds, write_figures
from vicreg_report import catalogue, metrics, paths, pipeline, render, stages
from vicreg_report import formatting as fmt
from vicreg_report.binding import NumberRegistry, bind, path_of
from vicreg_report.config import SMOKE
from vicreg_report.experiments import sections
from vicreg_report.templating import make_environment

LANGUAGES = ("en", "he")
# Names that contain digits; removed from the text before numbers are read.
NAMES = ("CIFAR-10", "ResNet-18", "ICLR 2022", "SHA-256")
QUESTION = re.compile(r"Q[1-7]")
# A number as it is written: digits with the punctuation of numbers, versions, times,
# hashes and stage names around them ("72.40%", "−0.0412", "1e-4", "2026-11-28",
# "3.11.7", "embedding2d:q1").  A hyphen before a word ends it ("10-nearest").
TOKEN = re.compile(r"[0-9A-Za-z.,:%\-\u2212/_=]*[0-9][0-9A-Za-z.,:%\-\u2212/_=]*")


def number_tokens(text: str) -> list[str]:
    """Every number in ``text``, as TOKEN reads it, without sentence punctuation."""
    text = re.sub(r"(?<=[0-9])-(?=[A-Za-z]{2})", " ", text.translate(MARKS))
    out = []
    for token in TOKEN.findall(text):
        token = token.strip(".,:=/_").lstrip("-")
        if re.search(r"\d", token):
            out.append(token)
    return out


def structural_pdf_numbers(out_dir: Path, lang: str, pages: int) -> Counter:
    """What typst numbers itself: the pages, the table and figure captions ("Table 3"),
    the numbered list of claims (``#.`` items in the source)."""
    source = (out_dir / f"report.{lang}.qmd").read_text(encoding="utf-8")
    counts = {"pages": pages,
              "tables": len(re.findall(r"^: ", source, re.M)),
              "figures": len(re.findall(r"^!\[", source, re.M)),
              "list items": len(re.findall(r"^#\. ", source, re.M))}
    allowed = Counter()
    for n in counts.values():
        allowed.update(str(i) for i in range(1, n + 1))
    return allowed


def recorded_numbers(out_dir: Path, lang: str) -> Counter:
    """The numbers numbers.json says were written for ``lang`` from a context path."""
    entries = json.loads((out_dir / render.NUMBERS_FILE).read_text(encoding="utf-8"))
    allowed = Counter()
    for e in entries:
        if e["lang"] == lang and e["path"]:
            allowed.update(number_tokens(e["text"]))
    return allowed


def document_numbers(text: str) -> Counter:
    for name in NAMES:
        text = text.replace(name, " ")
    return Counter(t for t in number_tokens(text) if not QUESTION.fullmatch(t))


def unbound_numbers(out_dir: Path) -> list[str]:
    """Every number in the HTML and PDF text of both languages that numbers.json does
    not account for, and every entry of numbers.json without a context path."""
    out_dir = Path(out_dir)
    problems = []
    entries = json.loads((out_dir / render.NUMBERS_FILE).read_text(encoding="utf-8"))
    problems += [f"{e['lang']}: {e['text']!r} written by {e['filter']} from no context path"
                 for e in entries if not e["path"]]
    for lang in LANGUAGES:
        recorded = recorded_numbers(out_dir, lang)
        html = document_numbers(html_text(out_dir / f"{render.OUTPUT_STEM}.{lang}.html"))
        pages = pdf_pages(out_dir / f"{render.OUTPUT_STEM}.{lang}.pdf")
        pdf = document_numbers(" ".join(pages))
        structural = structural_pdf_numbers(out_dir, lang, len(pages))
        for kind, found, allowed in (("html", html, recorded),
                                     ("pdf", pdf, recorded + structural)):
            problems += [f"{lang} {kind}: {token!r} appears {n} times, bound {allowed[token]}"
                         for token, n in sorted(found.items()) if n > allowed[token]]
    return problems


def resolve(ctx: dict, path: str):
    """The context value at a dotted path ('probes.q1.per_class.3')."""
    value = ctx
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


# ---------------------------------------------------------------- the mechanism

def test_bind_keeps_paths_through_arithmetic():
    ctx = bind({"a": {"x": 0.75, "n": 4, "v": [0.25, 0.5]}, "s": "cu130"})
    x, n, v = ctx["a"]["x"], ctx["a"]["n"], ctx["a"]["v"]
    assert path_of(x) == "a.x" and path_of(v[1]) == "a.v.1"
    assert path_of(x - v[0]) == "(a.x - a.v.0)" and x - v[0] == 0.5
    assert path_of(sum(v)) == "(a.v.0 + a.v.1)"            # sum starts from 0
    assert path_of(n * n) == "(a.n * a.n)" and isinstance(n * n, int)
    assert path_of(1 - x) == "(1 - a.x)"
    assert path_of(ctx["s"]) == "s" and ctx["s"] == "cu130"
    assert path_of(0.5) is None


def test_filters_record_what_they_write():
    registry = NumberRegistry()
    hebrew = catalogue.load("he")
    env = make_environment(hebrew, registry=registry)
    template = env.from_string("{{ a.x | percent }} {{ (a.x - a.y) | percent_points }} "
                               "{{ a.v | length | integer }} {{ 0.5 | percent }} "
                               "{{ s | code }} {{ 'no digits' | code }}")
    text = template.render(**bind({"a": {"x": 0.75, "y": 0.5, "v": [1, 2]}, "s": "v2"}))
    assert text.startswith("75.00% ")
    got = sorted((e["text"], e["path"] or "", e["lang"]) for e in registry)
    assert got == sorted([("75.00%", "a.x", "he"),
                          (fmt.percent_points(0.25, conv=hebrew.conventions),   # its units
                           "(a.x - a.y)", "he"),
                          ("2", "len(a.v)", "he"),
                          ("50.00%", "", "he"),                    # a literal: no path
                          ("v2", "s", "he")])                      # the text, not the markup


def test_numbers_file_names_every_number_with_its_source(built):
    ctx, out = built.ctx, built.out
    entries = json.loads((out / "numbers.json").read_text(encoding="utf-8"))
    assert {e["lang"] for e in entries} == {"en", "he", "index"}
    assert all(e["path"] for e in entries)
    plain = [e for e in entries if re.fullmatch(r"[\w.]+", e["path"])]
    assert len(plain) > 0.8 * len(entries)
    for e in plain:
        assert resolve(ctx, e["path"]) == e["value"], e
    first = next(e for e in entries if e["path"] == "probe.trained.test_acc")
    assert first == {"text": "61.23%", "path": "probe.trained.test_acc", "value": 0.6123,
                     "lang": "en", "filter": "percent"}


def test_rendered_numbers_are_all_bound(built):
    assert unbound_numbers(built.out) == []


def test_number_tokens():
    text = ("Q1 reaches 72.40% (−0.0412, +3.10 pp), 1e-4; a 10-nearest-neighbour "
            "classifier, ב-51.56%, commit d1faea0a19f8+dirty, embedding2d:q1, 3 min 05 s.")
    assert number_tokens(text) == ["Q1", "72.40%", "\u22120.0412", "3.10", "1e-4", "10",
                                   "51.56%", "d1faea0a19f8", "embedding2d:q1", "3", "05"]
    assert number_tokens(fmt.LRM + "\u22120.0412") == ["\u22120.0412"]


# ---------------------------------------------------------------- the checks catch a literal

# Where an injection goes: before the summary heading of the structure (every language
# shows it), or before the first sentence of one catalogue's summary.
ANCHORS = {"structure": ("report.md.j2", '## {{ msg("summary.heading") }} {#sec-summary}'),
           "en": ("lang/en.toml", "The table gathers the study's headline numbers."),
           "he": ("lang/he.toml", "הטבלה מרכזת את המספרים העיקריים של המחקר.")}


def templates_with(tmp_path: Path, where: str, text: str) -> Path:
    """A copy of templates/ with ``text`` injected at ANCHORS[where]."""
    folder = tmp_path / "templates"
    shutil.copytree(paths.TEMPLATES_DIR, folder)
    name, anchor = ANCHORS[where]
    source = (folder / name).read_text(encoding="utf-8")
    assert source.count(anchor) == 1
    glue = "\n\n" if where == "structure" else " "
    (folder / name).write_text(source.replace(anchor, f"{text}{glue}{anchor}"), encoding="utf-8")
    return folder


@pytest.mark.parametrize("where, injected, caught", [
    ("en", "In another run the probe reached 87.65%.", "'87.65%'"),
    ("he", "בהרצה אחרת המסווג הגיע ל-87.65%.", "'87.65%'"),
    ("structure", "{{ 0.25 | percent }}", "from no context path"),
    ("structure", "{{ probes.q1.test_acc }}", "'0.6123'"),
    ("structure", "{{ anomaly.top }}", "'7'"),
])
def test_rendered_check_catches_an_injected_number(tmp_path, monkeypatch, where, injected,
                                                    caught):
    monkeypatch.setattr(paths, "TEMPLATES_DIR", templates_with(tmp_path, where, injected))
    ctx = make_context()
    out = tmp_path / "out"
    write_figures(out, ctx)
    render.build_document(ctx, out)
    problems = unbound_numbers(out)
    assert problems and any(caught in p for p in problems), problems
    langs = LANGUAGES if where == "structure" else (where,)
    assert {p.split()[0].rstrip(":") for p in problems} == set(langs), problems


# ---------------------------------------------------------------- templates and catalogues

ALLOWED_IN_TEMPLATES = NAMES + ("utf-8", "initial-scale=1")   # HTML boilerplate
LAYOUT = re.compile(r"width=\d+%")
# context keys (q2.q1.top10), claim ids (digits_8_and_1), anchors (sec-q7), Q1...Q7, h1
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PLACEHOLDER = re.compile(r"\{\w+\}")


def digits_outside_names(text: str) -> list[str]:
    """The digits left in a text once names, identifiers and figure widths are out."""
    for name in ALLOWED_IN_TEMPLATES:
        text = text.replace(name, " ")
    text = IDENTIFIER.sub(" ", LAYOUT.sub(" ", text))
    return re.findall(r".{0,15}\d.{0,15}", text)


def template_literals(source: str) -> list[str]:
    """Number literals of a Jinja template, read with Jinja's own lexer: any integer or
    float in an expression; digits left in the template text or in a string once names,
    identifiers and figure widths are taken out.  Comments are skipped."""
    source = re.sub(r"<style>.*?</style>", "", source, flags=re.S)   # index.html's CSS
    found = []
    for _, kind, value in make_environment().lex(source):
        if kind in ("integer", "float"):
            found.append(value)
        elif kind in ("data", "string"):
            found += digits_outside_names(value)
    return found


def message_literals(message: str) -> list[str]:
    """Digits in a catalogue's message outside its placeholders and names."""
    return digits_outside_names(PLACEHOLDER.sub(" ", message))


def all_templates() -> list[Path]:
    return sorted(paths.TEMPLATES_DIR.rglob("*.j2"))


def template_name(path: Path) -> str:
    return path.relative_to(paths.TEMPLATES_DIR).as_posix()


def test_every_template_is_scanned():
    assert {template_name(p) for p in all_templates()} == {
        "report.md.j2", "index.html.j2", *(f"sections/{s}.md.j2" for s in sections())}


@pytest.mark.parametrize("path", all_templates(), ids=template_name)
def test_templates_hold_no_literal_numbers(path):
    assert template_literals(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalogues_hold_no_literal_numbers(catalogues, lang):
    found = {key: message_literals(message)
             for key, message in catalogues[lang].messages.items()}
    assert {key: digits for key, digits in found.items() if digits} == {}
    assert message_literals(catalogues[lang].title) == []


@pytest.mark.parametrize("injected", [
    "the probe reached 87.65% in another run", "{{ 0.25 | percent }}", "{{ x * 100 }}",
    "{{ '87.65%' }}", "{% if n > 3 %}many{% endif %}", "{{ compare(a, b, tol=1e-4) }}",
    "the top 7 images", "{## a comment with 12 ##}{{ 1 }}",
])
def test_template_check_catches_an_injected_literal(injected):
    clean = (paths.TEMPLATES_DIR / render.REPORT_TEMPLATE).read_text(encoding="utf-8")
    assert template_literals(clean + injected + "\n")


@pytest.mark.parametrize("message", ["reached 87.65% in another run", "{trained} and 7 more",
                                     "the top {top7}0 images", "הגיע ל-87.65%"])
def test_catalogue_check_catches_an_injected_literal(message):
    assert message_literals(message)


def test_checks_ignore_comments_placeholders_and_names():
    assert template_literals("{## 12 and 7 ##}CIFAR-10 on ResNet-18, Q7 {{ q2.q1.top10 | "
                             "percent }} ![x](<{{ f }}>){#fig-q7 width=58%}\n") == []
    assert message_literals("{q1_top2} of CIFAR-10 in Q1 (see [Retrieval](#sec-q7))") == []


# ---------------------------------------------------------------- several seeds (unit)

def test_several_seeds_are_bound(tmp_path):
    ctx = several_seeds(make_context())
    write_figures(tmp_path, ctx)
    render.build_document(ctx, tmp_path)
    assert unbound_numbers(tmp_path) == []
    entries = json.loads((tmp_path / "numbers.json").read_text(encoding="utf-8"))
    spread = next(e for e in entries if e["filter"] == "spread" and e["lang"] == "en")
    assert spread["path"] == "summary.0.this_seeds" and spread["value"]["n"] == 3


def test_stale_context_is_bound(tmp_path):
    ctx = make_context()
    ctx["stale"] = [("embedding2d:q1", "inputs changed (key 6bcb570a -> 0d3004d0); shown as "
                     "saved, marked stale"), ("train:q4", "saved result unusable: v2 format")]
    ctx = derive(ctx)
    write_figures(tmp_path, ctx)
    render.build_document(ctx, tmp_path)
    assert unbound_numbers(tmp_path) == []


# ---------------------------------------------------------------- the smoke study, end to end

def _keep(report_dir: Path, dest: Path) -> Path:
    shutil.copytree(report_dir, dest)
    return dest


@pytest.fixture(scope="module")
def smoke(smoke_study, tmp_path_factory):
    """The smoke study for seeds 0 (the shared one's) and 1, rendered; then seed 0
    rendered from saved results after the embedding2d module "changed" (stale results)."""
    build = smoke_study.copy(tmp_path_factory.mktemp("binding") / "build")
    mp = pytest.MonkeyPatch()
    mp.setenv("VICREG_BUILD_DIR", str(build))
    try:
        run = pipeline.Run(SMOKE, show_progress=False)
        pipeline.report(run, [0, 1])
        two = _keep(run.report_dir, build / "kept" / "two_seeds")
        per_seed = {s: metrics.read_metrics(pipeline.for_seed(run, s).results_dir)
                    for s in (0, 1)}
        real = stages.module_hash
        mp.setattr(stages, "module_hash",
                   lambda name: "changed" if name == "embedding2d" else real(name))
        stale_run = pipeline.Run(SMOKE, show_progress=False, saved_only=True)
        pipeline.report(stale_run, [0])
        stale = _keep(stale_run.report_dir, build / "kept" / "stale")
        yield {"two_seeds": two, "stale": stale, "stale_run": stale_run,
               "results": run.results_dir, "across": metrics.across_seeds(per_seed)}
    finally:
        mp.undo()


@pytest.mark.parametrize("doc", ["two_seeds", "stale"])
def test_smoke_document_numbers_are_all_bound(smoke, doc):
    assert unbound_numbers(smoke[doc]) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_two_seeds_show_mean_and_std(smoke, catalogues, lang):
    out = smoke["two_seeds"]
    html = re.sub(r"\s+", " ", html_text(out / f"vicreg-report.{lang}.html"))
    pdf = re.sub(r"\s+", " ", " ".join(pdf_pages(out / f"vicreg-report.{lang}.pdf")))
    across = smoke["across"]
    for name, kind in (("probe_q1", "percent"), ("probe_random_init", "percent"),
                       ("auc_q1", "auc"), ("silhouette_q5", "score")):
        shown = fmt.spread(across[name], kind, count=False).translate(MARKS)
        assert shown in html.translate(MARKS) and shown in pdf, (name, shown)
    over = fmt.over_seeds(across["auc_q5"], "auc", conv=catalogues[lang].conventions).translate(MARKS)
    assert over in html.translate(MARKS)
    first = ("describes the run with the first seed, 0" if lang == "en"
             else "מתאר את ההרצה עם הזרע הראשון, 0")
    assert first in html
    assert "nox -s report -- --profile smoke --seed 0 1" in html
    assert "nox -s report -- --profile smoke --seed 0 1" in pdf


@pytest.mark.parametrize("lang", LANGUAGES)
def test_provenance_appendix_lists_every_result(smoke, catalogues, lang):
    out = smoke["two_seeds"]
    html = html_text(out / f"vicreg-report.{lang}.html")
    appendix = html[html.index(catalogues[lang].say("provenance.heading")):]
    kinds = ("train", "probe", "embedding2d", "laplacian", "retrieval", "anomaly", "clustering")
    results = sorted(p.stem for p in Path(smoke["results"]).glob("*.json")
                     if p.stem.split(".")[0] in kinds)
    assert len(results) == 23
    for stem in results:          # train.q1.json -> train:q1
        assert stem.replace(".", ":", 1) in appendix, stem
    for field in ("Python", "PyTorch", "torchvision", "NumPy"):
        assert field in appendix


STALE_TITLE = {"en": "Warning: this document shows stale results.",
               "he": "אזהרה: המסמך מציג תוצאות לא עדכניות."}
STALE_SECTION = {"en": "Stale results.", "he": "תוצאות לא עדכניות."}
SUMMARY_HEADING = {"en": "Results at a glance", "he": "התוצאות במבט אחד"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_stale_results_are_called_out(smoke, lang):
    out, run = smoke["stale"], smoke["stale_run"]
    stale = sorted({stage for stage, _ in run.stale})
    assert stale and {s.split(":")[0] for s in stale} == {"embedding2d", "clustering",
                                                          "comparisons"}
    html = html_text(out / f"vicreg-report.{lang}.html")
    assert STALE_TITLE[lang] in html
    assert html.index(STALE_TITLE[lang]) < html.index(SUMMARY_HEADING[lang])   # at the top
    raw = (out / f"vicreg-report.{lang}.html").read_text(encoding="utf-8")
    # the top box and one in each affected section: Q2 and Q4 (maps), clustering, claims
    assert raw.count('<div class="warning">') == 5
    for stage in stale:
        assert stage in html
    pages = pdf_pages(out / f"vicreg-report.{lang}.pdf")
    text = " ".join(pages)
    for stage in stale:
        assert stage in text, stage
    words = STALE_TITLE[lang].rstrip(".").split()
    assert all(w.strip(":") in pages[0] for w in words)       # on the first page
    section_words = STALE_SECTION[lang].rstrip(".").split()
    lines = [line for page in PdfReader(out / f"vicreg-report.{lang}.pdf").pages
             for line in page.extract_text().translate(MARKS).splitlines()]
    # the three section boxes (in Hebrew the top box's title holds the same words)
    assert sum(all(w in line for w in section_words) for line in lines) >= 3


def test_fresh_document_has_no_stale_warning(smoke):
    for lang in LANGUAGES:
        html = html_text(smoke["two_seeds"] / f"vicreg-report.{lang}.html")
        assert STALE_TITLE[lang] not in html and STALE_SECTION[lang] not in html
