"""The catalogues: every language has the reference's keys and placeholders, or the
build fails naming the file and the key; no text reaches the document except through
a catalogue; a new language is one new file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from document_text import html_text
from sample_context import (STALE, derive, make_context, several_seeds, write_figures)
from vicreg_report import catalogue, paths, render
from vicreg_report.binding import bind
from vicreg_report.errors import RenderError
from vicreg_report.escaping import code, md_escape
from vicreg_report.formatting import UNITS
from vicreg_report.templating import make_environment, render_template, rule


def templates_copy(tmp_path: Path, monkeypatch) -> Path:
    """A copy of templates/ that the code reads instead; its catalogue folder."""
    folder = tmp_path / "templates"
    shutil.copytree(paths.TEMPLATES_DIR, folder)
    monkeypatch.setattr(paths, "TEMPLATES_DIR", folder)
    return folder / "lang"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


# ---------------------------------------------------------------- the checks

def test_languages_are_the_catalogues_present(catalogues):
    assert catalogue.languages() == ("en", "he") == tuple(catalogues)
    assert catalogues["he"].dir == "rtl" and catalogues["en"].dir == "ltr"


THRESHOLD_EQUAL = ('equal = "בגבולות אי-הוודאות שלה, אי אפשר להבחין בין התוצאה לבין הסף '
                   'שהציב הקורס, {threshold}."')


@pytest.mark.parametrize("lang, old, new, named", [
    ("he", THRESHOLD_EQUAL, "", "he.toml: probe.threshold.equal: missing (it is in en.toml)"),
    ("he", THRESHOLD_EQUAL, THRESHOLD_EQUAL + '\nsurplus = "עוד"',
     "probe.threshold.surplus: not in en.toml"),
    ("he", THRESHOLD_EQUAL, THRESHOLD_EQUAL.replace("{threshold}", "{limit}"),
     "probe.threshold.equal: placeholders {limit}, but en.toml has {threshold}"),
    ("he", THRESHOLD_EQUAL, THRESHOLD_EQUAL.replace("{threshold}", "{threshold:.2f}"),
     "probe.threshold.equal: the placeholder {threshold} must be a plain name"),
    ("he", THRESHOLD_EQUAL, THRESHOLD_EQUAL.replace("{threshold}", "{threshold} {threshold}"),
     "the placeholder {threshold} appears more than once"),
    ("he", THRESHOLD_EQUAL, THRESHOLD_EQUAL.replace("{threshold}", "{threshold"),
     "probe.threshold.equal: "),
    ("he", 'dir = "rtl"', 'dir = "up"', "dir is 'up'"),
    ("he", 'seeds = "זרעים"', "", "units must give a word for each of"),
    ("he", 'names = "code"', 'names = "code"\nfont = "David"', "unknown setting font"),
    ("en", 'title = "VICReg on CIFAR-10: a reproducible study"', 'title = "a \\"quoted\\" title"',
     "title: no double quote"),
    ("en", 'subtitle = "Profile', 'subtitle = "Pro\\\\file', "front.subtitle: no double quote"),
    ("en", 'equal = "no clear difference"', "equal = 3", "versus.equal is 3, not a message"),
    ("en", "[versus]", "[versus", "en.toml is not valid TOML"),
])
def test_a_catalogue_unlike_the_reference_fails_naming_file_and_key(tmp_path, monkeypatch,
                                                                    lang, old, new, named):
    folder = templates_copy(tmp_path, monkeypatch)
    edit(folder / f"{lang}.toml", old, new)
    with pytest.raises(RenderError, match=re.escape(named)):
        catalogue.load_all()


def test_a_broken_catalogue_fails_the_build_before_anything_is_written(tmp_path, monkeypatch):
    folder = templates_copy(tmp_path, monkeypatch)
    edit(folder / "he.toml", THRESHOLD_EQUAL, "")
    ctx, out = make_context(), tmp_path / "out"
    write_figures(out, ctx)
    with pytest.raises(RenderError, match="he.toml: probe.threshold.equal: missing"):
        render.build_document(ctx, out)
    assert [p.name for p in out.iterdir()] == ["figures"]


def test_a_message_takes_exactly_its_placeholders_as_formatted_text(catalogues):
    en = catalogues["en"]
    assert en.say("probe.threshold.equal", threshold="60.00%").endswith("threshold of 60.00%.")
    with pytest.raises(RenderError, match=r"takes \{threshold\}; the template gave "
                                          r"no placeholders"):
        en.say("probe.threshold.equal")
    with pytest.raises(RenderError, match=r"gave \{gap, threshold\}"):
        en.say("probe.threshold.equal", threshold="60.00%", gap="1 pp")
    # a value of the context as it is, a number or a string, skipped its formatter
    for unformatted in bind({"t": 0.6, "s": "60%"}).values():
        with pytest.raises(RenderError, match="not formatted text"):
            en.say("probe.threshold.equal", threshold=unformatted)
    with pytest.raises(RenderError, match="en.toml has no message 'probe.nothing'"):
        en.say("probe.nothing")


def test_table_rules_follow_the_direction():
    assert rule("|:---|---:|:--:|", "ltr") == "|:---|---:|:--:|"
    assert rule("|:---|---:|:--:|", "rtl") == "|---:|---:|--:|"


def test_names_are_set_as_each_language_says(catalogues):
    """A name from the results in running text: plain in English, inline code in
    Hebrew (which rtl.lua keeps left to right)."""
    ctx = make_context()
    for lang, shown in (("en", "on cpu (x86\\_64, 2 threads), a protocol"),
                        ("he", "על `cpu (x86_64, 2 threads)`: פרוטוקול")):
        assert shown in render.render_markdown(lang, ctx)


# ---------------------------------------------------------------- no text but the catalogue's

MARKER = re.compile(r"⟦[^⟧]*⟧")


def pseudo_catalogue(reference: catalogue.Catalogue) -> str:
    """A catalogue of every key of the reference, each message only a marker of its key
    and its placeholders ('⟦probe.fit.lower⟧ {train}'); the settings' words marked too."""
    lines = []
    for key, message in reference.messages.items():
        fields = " ".join(f"{{{name}}}" for name in sorted(catalogue.placeholders(message)))
        lines.append(f"{key} = {json.dumps(f'⟦{key}⟧ {fields}'.strip())}")
    lines += ["[language]", 'dir = "ltr"', 'title = "⟦title⟧"', 'names = "plain"',
              'list_separator = ", "', "[language.units]"]
    lines += [f'{unit} = "⟦unit {unit}⟧"' for unit in UNITS]
    return "\n".join(lines) + "\n"


def context_strings(value) -> set[str]:
    """Every string of the context, as it is and as the text filters write it (digits
    such as the anomaly's "8" are left to NUMBER)."""
    if isinstance(value, dict):
        return {s for v in value.values() for s in context_strings(v)}
    if isinstance(value, (list, tuple)):
        return {s for v in value for s in context_strings(v)}
    if isinstance(value, str) and not value.isdigit():
        return {value, md_escape(value), code(value)}
    return set()


# What the structure itself writes: markdown, pandoc attributes, front-matter keys.
SYNTAX = re.compile(r"\{[#.][^{}]*\}|\(<[^>]*>\)|^(title|subtitle|lang|dir):.*$", re.M)
NUMBER = re.compile(r"[\w.,:%+\-\u2212/]*\d[\w.,:%+\-\u2212/]*")


def words_not_from_a_catalogue(markdown: str, ctx: dict) -> list[str]:
    """The words left once the markers, the context's strings, the numbers and the
    markdown syntax are taken out: prose that did not come through the catalogue."""
    text = MARKER.sub(" ", markdown)
    for s in sorted(context_strings(ctx), key=len, reverse=True):
        text = text.replace(s, " ")
    text = NUMBER.sub(" ", SYNTAX.sub(" ", text))
    return re.findall(r"[^\W\d_]+", text)


def pseudo_contexts() -> list[dict]:
    """Contexts that between them take most branches of the structure."""
    stale = several_seeds(make_context())
    stale["stale"] = [(stage, why, 12) for stage, why in STALE]
    flipped = make_context()
    flipped["setup"]["data_source"] = "synthetic:seed=0"
    flipped["probes"]["q1"], flipped["probes"]["random_init"] = \
        flipped["probes"]["random_init"], flipped["probes"]["q1"]
    flipped = derive(flipped)
    turn = {"supported": "not_supported", "not_supported": "undecided",
            "undecided": "supported"}
    for claim in flipped["claims"]:
        claim["verdict"] = turn[claim["verdict"]]
    return [make_context(), derive(stale), flipped]


def test_no_text_reaches_the_document_but_through_the_catalogue(tmp_path, monkeypatch,
                                                                  catalogues):
    folder = templates_copy(tmp_path, monkeypatch)
    (folder / "xx.toml").write_text(pseudo_catalogue(catalogues["en"]), encoding="utf-8")
    for ctx in pseudo_contexts():
        markdown = render.render_markdown("xx", ctx)
        assert len(MARKER.findall(markdown)) > 300
        assert words_not_from_a_catalogue(markdown, ctx) == []
    # the landing page's section of the language, too
    languages = [catalogue.load("en"), catalogue.load("xx")]
    index = render_template(make_environment(autoescape=True), render.INDEX_TEMPLATE,
                            {"meta": ctx["meta"], "files": render.output_names(("en", "xx")),
                             "languages": languages})
    section = re.search(r'<section lang="xx".*?</section>', index, re.S).group(0)
    assert re.findall(r"[^\W\d_]+", MARKER.sub(" ", re.sub(r"<[^>]*>", " ", section))) == []


def test_the_pseudo_check_sees_prose_outside_the_catalogue(tmp_path, monkeypatch, catalogues):
    folder = templates_copy(tmp_path, monkeypatch)
    (folder / "xx.toml").write_text(pseudo_catalogue(catalogues["en"]), encoding="utf-8")
    edit(folder.parent / "sections" / "q2.md.j2", "## {{ msg(\"q2.heading\") }}",
         "Some words.\n\n## {{ msg(\"q2.heading\") }}")
    ctx = make_context()
    assert words_not_from_a_catalogue(render.render_markdown("xx", ctx), ctx) == ["Some",
                                                                                  "words"]


def template_prose(source: str) -> list[str]:
    """Words in the template text (outside tags, once the markdown syntax is out) and
    phrases in its string literals: the structure holds no prose in any language."""
    found = []
    for _, kind, value in make_environment().lex(source):
        if kind == "data":
            text = re.sub(r"lang=|dir=rtl|width=\d+%", " ", SYNTAX.sub(" ", value))
            found += re.findall(r"[^\W\d_]+", text)
        elif kind == "string" and re.search(r"[^\W\d_]+\s+[^\W\d_]+", value):
            found.append(value)
    return found


def test_the_structure_holds_no_prose():
    for path in [paths.TEMPLATES_DIR / render.REPORT_TEMPLATE,
                 *sorted((paths.TEMPLATES_DIR / "sections").glob("*.md.j2"))]:
        assert template_prose(path.read_text(encoding="utf-8")) == [], path.name
    source = (paths.TEMPLATES_DIR / render.REPORT_TEMPLATE).read_text(encoding="utf-8")
    for injected in ("{% if x %}the run{% endif %}", '{{ "two words" }}', "Figure"):
        assert template_prose(source + injected), injected


# ---------------------------------------------------------------- a third language

def test_a_third_language_is_one_file(tmp_path, monkeypatch, catalogues):
    folder = templates_copy(tmp_path, monkeypatch)
    french = (folder / "en.toml").read_text(encoding="utf-8")
    for old, new in (('title = "VICReg on CIFAR-10: a reproducible study"',
                      'title = "VICReg sur CIFAR-10 : une étude reproductible"'),
                     ('heading = "Results at a glance"', 'heading = "Les résultats en bref"'),
                     ('read_html = "Read in the browser (HTML)"',
                      'read_html = "Lire dans le navigateur (HTML)"')):
        french = french.replace(old, new)
    (folder / "fr.toml").write_text(french, encoding="utf-8")
    ctx, out = make_context(), tmp_path / "out"
    write_figures(out, ctx)
    outputs = render.build_document(ctx, out)
    assert catalogue.languages() == ("en", "fr", "he")
    assert {"html_fr", "pdf_fr"} <= set(outputs) and outputs["pdf_fr"].stat().st_size > 1000
    source = (out / "report.fr.qmd").read_text(encoding="utf-8")
    assert "lang: fr\n" in source and "## Les résultats en bref {#sec-summary}" in source
    assert "Les résultats en bref" in html_text(outputs["html_fr"])
    index = outputs["index"].read_text(encoding="utf-8")
    assert 'href="vicreg-report.fr.html"' in index and "Lire dans le navigateur" in index
    entries = json.loads(outputs["numbers"].read_text(encoding="utf-8"))
    assert {e["lang"] for e in entries} == {"en", "fr", "he", "index"}
