"""The documents as files: every output of every language, its structure and
direction, the numbers in the HTML and the PDF, the landing page, the toolchain's
failures and atomic writing."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from pypdf import PdfReader

from document_text import html_source, pdf_text, squash
from sample_context import (STALE, TERMS, derive, figure_paths, make_context, write_figure,
                            write_figures)
from vicreg_report import formatting as fmt
from vicreg_report import paths, render, results, toolchain
from vicreg_report.errors import RenderError
from vicreg_report.experiments import sections

LANGUAGES = ("en", "he")
# The document's sections in their order, by catalogue key (level-2 headings): the
# experiments' in the registry's order, between the setup and the claims.
SECTIONS = ("summary", "setup", *sections(), "claims", "provenance")


def headings(catalogue) -> list[str]:
    return [catalogue.say(f"{section}.heading") for section in SECTIONS]


def formatted_numbers(ctx: dict, conv: fmt.Conventions) -> list[str]:
    """Every number the report shows, as the formatters write it."""
    p, t, probe = ctx["setup"]["profile"], ctx["training"], ctx["probe"]
    nums = [fmt.percent(v) for v in (probe["trained"]["test_acc"], probe["trained"]["train_acc"],
                                     probe["random_init"]["test_acc"],
                                     probe["random_init"]["train_acc"],
                                     probe["original"]["test_acc"], probe["course_threshold"])]
    gain = probe["trained"]["test_acc"] - probe["random_init"]["test_acc"]
    over_threshold = probe["trained"]["test_acc"] - probe["course_threshold"]
    under_original = probe["original"]["test_acc"] - probe["trained"]["test_acc"]
    nums += [fmt.percent_points(v, signed=False, conv=conv)
             for v in (gain, over_threshold, under_original)]
    nums += [fmt.loss(t[k][term]) for k in ("first", "last", "test_first", "test_last")
             for term in TERMS]
    nums += [fmt.integer(v) for v in (t["steps"], t["epochs"], p["width"], p["train_images"],
                                      p["test_images"], p["epochs"], p["batch_size"], p["seed"],
                                      *(probe["settings"][k] for k in ("train_images",
                                                                       "test_images")))]
    nums += [fmt.real(v) for v in (p["lr"], p["weight_decay"], p["lam"], p["mu"], p["nu"],
                                   p["gamma"], p["eps"], probe["settings"]["l2"])]
    nums += [fmt.seconds(v, conv=conv) for v in ctx["setup"]["wall_time"].values()]
    nums += [ctx["setup"]["data_fingerprint"], p["config_hash"], ctx["meta"]["commit"]]
    return nums + summary_numbers(ctx) + section_numbers(ctx)


def summary_numbers(ctx: dict) -> list[str]:
    """Every number of the summary table, as its kind is written."""
    return [fmt.metric(row[col], row["kind"]) for row in ctx["summary"]
            for col in ("this", "control", "original") if row[col] is not None]


def section_numbers(ctx: dict) -> list[str]:
    """The numbers the sections after the linear probe show in their tables."""
    pr, q2, q6, q7 = ctx["probes"], ctx["q2"], ctx["q6"], ctx["q7"]
    an, cl = ctx["anomaly"], ctx["clustering"]
    nums = [fmt.percent(v) for enc in ("q1", "random_init")
            for v in (*pr[enc]["per_class"], pr[enc]["vehicles"], pr[enc]["animals"])]
    nums += [fmt.percent(q2[enc][k]) for enc in ("q1", "random_init")
             for k in ("pca_knn", "tsne_knn")]
    nums += [fmt.score(q2[enc][k]) for enc in ("q1", "random_init")
             for k in ("pca_silhouette", "tsne_silhouette")]
    nums += [fmt.rank(q2[enc]["effective_rank"]) for enc in ("q1", "q4", "random_init")]
    nums += [fmt.percent(q2[enc][k]) for enc in ("q1", "q4", "random_init")
             for k in ("top1", "top2", "top10")]
    nums += [fmt.percent(v) for v in (ctx["q4"]["probe"], ctx["q5"]["probe"],
                                      *ctx["q5"]["other_runs"])]
    nums += [fmt.percent(q6[v][k]) for v in ("raw_pixels", "random_cnn", "q1", "random_init")
             for k in ("test_acc", "train_acc")] + [fmt.percent(q6["chance"])]
    nums += [fmt.integer(q6[v]["graph_components"]) for v in ("raw_pixels", "random_cnn")]
    nums += [fmt.percent(q7[enc][k]) for enc in ("q1", "q5")
             for k in ("same_class", "animal_other_animal", "animal_vehicle", "farthest_grey")]
    nums += [fmt.score(v) for v in (q7["q1"]["farthest_saturation"],
                                    q7["q5"]["farthest_saturation"], q7["dataset_saturation"])]
    nums += [fmt.percent(q7["dataset_grey"])]
    nums += [fmt.auc(an[enc]["auc"]) for enc in ("q1", "q5", "random_init")]
    nums += [fmt.integer(an[enc][k]) for enc in ("q1", "q5") for k in ("top_normal", "wide_normal")]
    nums += [fmt.score(cl[enc][k]) for enc in ("q1", "q5", "random_init")
             for k in ("silhouette", "ari", "nmi")]
    nums += [fmt.integer(cl["q1"][k]) for k in ("sample", "dimensions")]
    return nums


# ---------------------------------------------------------------- outputs

def test_all_outputs_exist_and_are_not_empty(built, catalogues):
    assert set(catalogues) == set(LANGUAGES)
    assert set(built.outputs) == {"html_en", "pdf_en", "html_he", "pdf_he", "index", "numbers"}
    for lang in LANGUAGES:
        for kind in ("html", "pdf"):
            path = built.outputs[f"{kind}_{lang}"]
            assert path == built.out / f"vicreg-report.{lang}.{kind}"
            assert path.stat().st_size > 1000
        assert built.outputs[f"pdf_{lang}"].read_bytes().startswith(b"%PDF")
        assert len(PdfReader(built.outputs[f"pdf_{lang}"]).pages) >= 2
    assert built.outputs["index"] == built.out / "index.html"
    assert built.outputs["numbers"] == built.out / "numbers.json"
    assert not list(built.out.glob(".*.tmp")), "temporary files left behind"


def test_outputs_are_readable_like_any_new_file(built):
    """Written under a temporary name first, yet with the permissions of a new file
    (0644 under the usual umask), not mkstemp's 0600."""
    umask = os.umask(0o022)
    os.umask(umask)
    for path in [*built.outputs.values(), built.out / "report.en.qmd",
                 built.out / "filters/rtl.lua"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_atomic_write_makes_a_normal_file(tmp_path):
    path = results.atomic_write(tmp_path / "sub" / "a.json", "{}")
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.read_text() == "{}" and stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]


def test_document_project_is_copied(built):
    for rel in ("_quarto.yml", "styles.css", "template.typ", "filters/rtl.lua",
                "filters/callout.lua", "report.en.qmd", "report.he.qmd"):
        assert (built.out / rel).is_file(), rel
    quarto = (built.out / "_quarto.yml").read_text()
    assert '- "/report.*.qmd"' in quarto                 # every language's source
    assert "typst" in quarto and "embed-resources: true" in quarto
    assert "filters/callout.lua" in quarto


@pytest.mark.parametrize("lang", LANGUAGES)
def test_sources_have_quarto_front_matter(built, catalogues, lang):
    source = (built.out / f"report.{lang}.qmd").read_text(encoding="utf-8")
    front = source.split("---\n")[1]
    direction = catalogues[lang].dir
    assert f"lang: {lang}\n" in front and f"dir: {direction}\n" in front
    assert f'title: "{catalogues[lang].title}"' in front
    assert "](<figures/training_curves.png>)" in source


@pytest.mark.parametrize("lang", LANGUAGES)
def test_html_has_headings_numbers_and_direction(built, catalogues, lang):
    html = html_source(built.outputs[f"html_{lang}"])
    assert re.search(rf'<html[^>]*lang="{lang}"', html)
    assert re.search(rf'<html[^>]*dir="{catalogues[lang].dir}"', html)
    for heading in headings(catalogues[lang]):
        assert re.search(rf"<h2[^>]*>{re.escape(heading)}</h2>", html), heading
    for number in formatted_numbers(built.ctx, catalogues[lang].conventions):
        assert number in html, f"{number!r} missing from the {lang} HTML"
    # the figure is embedded, not linked
    assert 'src="data:image/png;base64,' in html


def table_rules(source: str) -> list[str]:
    return [line for line in source.splitlines() if re.fullmatch(r"\|[-:|]+\|", line)]


def test_every_language_has_the_same_tables_and_right_to_left_ones_align_right(built,
                                                                                 catalogues):
    rules = {lang: table_rules((built.out / f"report.{lang}.qmd").read_text(encoding="utf-8"))
             for lang in LANGUAGES}
    # summary; settings, environment, loss terms, probe, probe by class, Q2 maps, Q4 collapse,
    # Q4 probe, Q5 probe, Q6 probes, Q7 retrieval, anomaly AUC, anomaly digits, clustering;
    # provenance shared and per result
    assert [len(r) for r in rules.values()] == [17] * len(LANGUAGES)
    dashes = {lang: [line.replace(":", "") for line in r] for lang, r in rules.items()}
    assert dashes["he"] == dashes["en"]                  # pandoc's relative widths kept
    assert catalogues["he"].dir == "rtl"
    assert all(set(cell) == {"-", ":"} and cell.endswith(":") and not cell.startswith(":")
               for line in rules["he"] for cell in line.strip("|").split("|"))
    assert any(cell.startswith(":") for line in rules["en"] for cell in line.strip("|").split("|"))
    cells = re.findall(r'<t[hd] style="text-align: (\w+);"', html_source(built.outputs["html_he"]))
    assert cells and set(cells) == {"right"}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_pdf_text_has_numbers(built, catalogues, lang):
    text = squash(pdf_text(built.outputs[f"pdf_{lang}"]))
    for number in formatted_numbers(built.ctx, catalogues[lang].conventions):
        # Right-to-left words and units may come out of the PDF in visual order; the
        # digits of each number stay together in every language.
        parts = [number] if catalogues[lang].dir == "ltr" else \
            re.findall(r"[0-9a-f.,:%e+\-]*\d[0-9a-f.,:%e+\-]*", number)
        assert parts, number
        for part in parts:
            assert part in text, f"{part!r} (from {number!r}) missing from the {lang} PDF"


def test_pdf_text_has_english_headings(built, catalogues):
    lines = [squash(line).strip() for line in pdf_text(built.outputs["pdf_en"]).splitlines()]
    for heading in headings(catalogues["en"]):
        assert heading in lines, heading


def test_pdf_text_has_hebrew_headings(built, catalogues):
    """pypdf gives Hebrew words in logical order but may join or reorder them
    within a line, so a heading counts as present when one short line holds
    all its words and nothing else."""
    lines = pdf_text(built.outputs["pdf_he"]).splitlines()
    for heading in headings(catalogues["he"]):
        words = heading.split()
        hits = [line for line in lines
                if all(w in line for w in words)
                and len(line.replace(" ", "")) == len(heading.replace(" ", ""))]
        assert hits, f"heading {heading!r} not found in the Hebrew PDF"


def test_typst_source_keeps_hebrew_headings(built, catalogues):
    """rtl.lua wraps the lang div, so pandoc does not glue the heading to a #set."""
    typ = (built.out / "vicreg-report.he.typ").read_text(encoding="utf-8")
    assert '#text(lang: "he", dir: rtl)[' in typ
    assert '#set text(lang: "he");' not in typ  # pandoc's own form, which loses the heading
    for heading in headings(catalogues["he"]):
        assert re.search(rf"^== {re.escape(heading)}$", typ, re.M), heading


def test_index_links_every_document_in_its_language(built, catalogues):
    index = built.outputs["index"].read_text(encoding="utf-8")
    for lang, catalogue in catalogues.items():
        for kind in ("html", "pdf"):
            assert f'href="vicreg-report.{lang}.{kind}"' in index
        assert f'<section lang="{lang}" dir="{catalogue.dir}">' in index
        assert f"<h1>{catalogue.title}</h1>" in index
        assert catalogue.say("index.read_html") in index
    assert '<html lang="en">' in index


@pytest.mark.parametrize("lang", LANGUAGES)
def test_sections_follow_the_study_order(built, catalogues, lang):
    """The summary table right after the introduction, then the study's order."""
    source = (built.out / f"report.{lang}.qmd").read_text(encoding="utf-8")
    assert re.findall(r"^## (.+) \{#sec-", source, re.M) == headings(catalogues[lang])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_summary_numbers_appear_in_html(built, lang):
    html = html_source(built.outputs[f"html_{lang}"])
    start = html.index('id="sec-summary"')
    table = html[start:html.index("</table>", start)]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table)[1:]
    assert len(rows) == len(built.ctx["summary"])
    for row, html_row in zip(built.ctx["summary"], rows):
        cells = [squash(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", html_row)]
        expected = [fmt.metric(row[col], row["kind"]) for col in ("this", "control", "original")]
        assert cells[1:4] == expected, (row["key"], cells)
    # a number that does not exist is a dash, never "None" or "n/a"
    assert fmt.DASH in table and "None" not in table


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_figure_has_a_caption(built, lang):
    source = (built.out / f"report.{lang}.qmd").read_text(encoding="utf-8")
    for rel in figure_paths(built.ctx):
        match = re.search(r"!\[([^\]]+)\]\(<" + re.escape(rel) + r">\)", source)
        assert match and len(match.group(1).split()) >= 5, rel
    html = html_source(built.outputs[f"html_{lang}"])
    assert html.count("<figcaption") == len(figure_paths(built.ctx))


def test_stale_warning_is_a_box_in_the_pdf_source(tmp_path):
    ctx = make_context()
    ctx["stale"] = STALE
    ctx = derive(ctx)
    write_figures(tmp_path, ctx)
    render.build_document(ctx, tmp_path)
    for lang in LANGUAGES:
        typ = (tmp_path / f"vicreg-report.{lang}.typ").read_text(encoding="utf-8")
        assert typ.count('#block(width: 100%, breakable: true, fill: rgb("#fdf1e7")') == 6
        html = (tmp_path / f"vicreg-report.{lang}.html").read_text(encoding="utf-8")
        assert html.count('<div class="warning">') == 6


def test_build_is_reproducible(built, tmp_path):
    """Same context and figure, same bytes: the PDF dates come from meta.generated."""
    (tmp_path / "figures").mkdir()
    for rel in figure_paths(built.ctx):
        (tmp_path / rel).write_bytes((built.out / rel).read_bytes())
    again = render.build_document(built.ctx, tmp_path)
    for key in built.outputs:
        assert again[key].read_bytes() == built.outputs[key].read_bytes(), key
    assert b"D:20261128100000" in again["pdf_en"].read_bytes()


# ---------------------------------------------------------------- failures

def test_every_missing_figure_is_named(tmp_path):
    ctx = make_context()
    write_figure(tmp_path, ctx["training"]["figure"])
    with pytest.raises(RenderError) as err:
        render.build_document(ctx, tmp_path)
    for rel in figure_paths(ctx)[1:]:
        assert rel in str(err.value)
    assert ctx["training"]["figure"] not in str(err.value)


def test_missing_figure_writes_nothing(tmp_path):
    with pytest.raises(RenderError, match="training_curves.png"):
        render.build_document(make_context(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_failed_step_leaves_no_partial_output(tmp_path, monkeypatch):
    ctx = make_context()
    write_figures(tmp_path, ctx)
    before = render.build_document(ctx, tmp_path)
    old = {key: path.read_bytes() for key, path in before.items()}

    calls = []

    def failing_typst(typ, root, timestamp=None):
        calls.append(typ)
        if len(calls) == 2:
            raise RenderError("typst: compiling (simulated) failed")
        return b"%PDF-1.7 stub"

    monkeypatch.setattr(render, "typst_pdf", failing_typst)
    ctx["probe"]["trained"]["test_acc"] = 0.7777
    with pytest.raises(RenderError, match="typst"):
        render.build_document(ctx, tmp_path)
    # the earlier complete set is untouched, nothing half-written beside it
    assert {key: path.read_bytes() for key, path in before.items()} == old
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_pandoc_failure_names_the_tool(tmp_path, monkeypatch):
    import pypandoc

    ctx = make_context()
    write_figures(tmp_path, ctx)

    def broken(*args, **kwargs):
        raise RuntimeError("Pandoc died with exitcode 1")

    monkeypatch.setattr(pypandoc, "convert_file", broken)
    with pytest.raises(RenderError, match=r"pandoc: converting report\.en\.qmd to html5"):
        render.build_document(ctx, tmp_path)
    assert not list(tmp_path.glob("vicreg-report.*"))
    assert not list(tmp_path.glob(".*.tmp"))


def test_paths_are_under_the_repository():
    assert (paths.TEMPLATES_DIR / render.REPORT_TEMPLATE).is_file()
    assert (paths.TEMPLATES_DIR / "lang" / "en.toml").is_file()
    assert (paths.REPORT_DIR / "_quarto.yml").is_file()
    assert paths.REPO_ROOT == Path(render.__file__).resolve().parents[2]


def test_quarto_probe(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert toolchain.quarto_available() is False
    with pytest.raises(RenderError, match="quarto"):
        render.render_with_quarto(Path("."))
