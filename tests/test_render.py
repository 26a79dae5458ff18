"""The document: both languages, HTML and PDF, every number from the context."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jinja2
import pytest
from PIL import Image
from pypdf import PdfReader

from vicreg_report import formatting as fmt
from vicreg_report import render
from vicreg_report.errors import VicregError

HEADINGS = {
    "en": ["Setup", "Training curves", "Linear probe"],
    "he": ["הגדרות הניסוי", "עקומות האימון", "מסווג ליניארי"],
}
TERMS = ("invariance", "variance", "covariance", "total")


def make_context() -> dict:
    """A plausible context in the shape report_context.build_context returns."""
    return {
        "meta": {"title_en": "VICReg on CIFAR-10: a reproducible study",
                 "title_he": "VICReg על CIFAR-10: מחקר הניתן לשחזור",
                 "generated": "2026-11-28T10:00:00Z", "commit": "abc1234", "profile": "quick"},
        "setup": {
            "data_source": "zip:../shared/data/cifar10-jpeg.zip",
            "data_fingerprint": "3f9a1c0de4b27781", "data_verified": True,
            "profile": {"name": "quick", "arch": "cnn", "width": 32, "train_images": 10_000,
                        "test_images": 9_000, "epochs": 8, "batch_size": 256, "lr": 1e-3,
                        "weight_decay": 1e-6, "lam": 25.0, "mu": 24.0, "nu": 1.0, "gamma": 1.0,
                        "eps": 1e-4, "seed": 7, "config_hash": "9c1d2e3f4a5b6c7d"},
            "device": "cpu (x86_64, 2 threads)", "python": "3.11.7", "torch": "2.14.1",
            "torchvision": "0.29.1",
            "wall_time": {"train_s": 185.3, "probe_s": 42.2, "total_s": 251.9},
        },
        "training": {
            "figure": "figures/training_curves.png", "steps": 312, "epochs": 8,
            "first": {"invariance": 0.912, "variance": 1.874, "covariance": 0.0123,
                      "total": 47.782},
            "last": {"invariance": 0.217, "variance": 0.0412, "covariance": 0.6634,
                     "total": 7.116},
            "test_first": {"invariance": 0.351, "variance": 0.312, "covariance": 0.524,
                           "total": 17.021},
            "test_last": {"invariance": 0.264, "variance": 0.0398, "covariance": 0.7012,
                          "total": 8.296},
        },
        "probe": {
            "trained": {"test_acc": 0.6123, "train_acc": 0.6689},
            "random_init": {"test_acc": 0.3487, "train_acc": 0.3712},
            "original": {"test_acc": 0.724}, "course_threshold": 0.60,
            "settings": {"epochs": 100, "lr": 2e-3, "batch_size": 1024,
                         "train_images": 10_000, "test_images": 9_000},
        },
    }


def write_figure(out_dir: Path, rel: str) -> Path:
    path = out_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", (64, 40), "white")
    for x in range(64):
        img.putpixel((x, 39 - min(39, int(40 * 0.95 ** x))), (31, 95, 168))
    img.save(path)
    return path


def formatted_numbers(ctx: dict, lang: str) -> list[str]:
    """Every number the report shows, as the formatters write it."""
    p, t, probe = ctx["setup"]["profile"], ctx["training"], ctx["probe"]
    nums = [fmt.percent(v) for v in (probe["trained"]["test_acc"], probe["trained"]["train_acc"],
                                     probe["random_init"]["test_acc"],
                                     probe["random_init"]["train_acc"],
                                     probe["original"]["test_acc"], probe["course_threshold"])]
    gain = probe["trained"]["test_acc"] - probe["random_init"]["test_acc"]
    over_threshold = probe["trained"]["test_acc"] - probe["course_threshold"]
    under_original = probe["original"]["test_acc"] - probe["trained"]["test_acc"]
    nums += [fmt.percent_points(v, signed=False, lang=lang)
             for v in (gain, over_threshold, under_original)]
    nums += [fmt.loss(t[k][term]) for k in ("first", "last", "test_first", "test_last")
             for term in TERMS]
    nums += [fmt.integer(v) for v in (t["steps"], t["epochs"], p["width"], p["train_images"],
                                      p["test_images"], p["epochs"], p["batch_size"], p["seed"],
                                      *(probe["settings"][k] for k in ("epochs", "batch_size",
                                                                       "train_images",
                                                                       "test_images")))]
    nums += [fmt.real(v) for v in (p["lr"], p["weight_decay"], p["lam"], p["mu"], p["nu"],
                                   p["gamma"], p["eps"], probe["settings"]["lr"])]
    nums += [fmt.seconds(v, lang) for v in ctx["setup"]["wall_time"].values()]
    nums += [ctx["setup"]["data_fingerprint"], p["config_hash"], ctx["meta"]["commit"]]
    return nums


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def html_text(path: Path) -> str:
    return squash(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    ctx = make_context()
    write_figure(out, ctx["training"]["figure"])
    outputs = render.build_document(ctx, out)
    return ctx, out, outputs


# ---------------------------------------------------------------- outputs

def test_all_outputs_exist_and_are_not_empty(built):
    _, out, outputs = built
    assert set(outputs) == {"html_en", "pdf_en", "html_he", "pdf_he", "index"}
    for key, name in [("html_en", "vicreg-report.en.html"), ("pdf_en", "vicreg-report.en.pdf"),
                      ("html_he", "vicreg-report.he.html"), ("pdf_he", "vicreg-report.he.pdf"),
                      ("index", "index.html")]:
        assert outputs[key] == out / name
        assert outputs[key].stat().st_size > 1000
    for lang in ("en", "he"):
        assert outputs[f"pdf_{lang}"].read_bytes().startswith(b"%PDF")
        assert len(PdfReader(outputs[f"pdf_{lang}"]).pages) >= 2
    assert not list(out.glob(".*.tmp")), "temporary files left behind"


def test_document_project_is_copied(built):
    _, out, _ = built
    for rel in ("_quarto.yml", "styles.css", "template.typ", "filters/rtl.lua",
                "report.en.qmd", "report.he.qmd"):
        assert (out / rel).is_file(), rel
    quarto = (out / "_quarto.yml").read_text()
    assert "report.en.qmd" in quarto and "report.he.qmd" in quarto
    assert "typst" in quarto and "embed-resources: true" in quarto


@pytest.mark.parametrize("lang, direction", [("en", "ltr"), ("he", "rtl")])
def test_sources_have_quarto_front_matter(built, lang, direction):
    ctx, out, _ = built
    source = (out / f"report.{lang}.qmd").read_text(encoding="utf-8")
    front = source.split("---\n")[1]
    assert f"lang: {lang}\n" in front and f"dir: {direction}\n" in front
    assert f'title: "{ctx["meta"][f"title_{lang}"]}"' in front
    assert "](<figures/training_curves.png>)" in source


@pytest.mark.parametrize("lang", ["en", "he"])
def test_html_has_headings_numbers_and_direction(built, lang):
    ctx, _, outputs = built
    html = html_text(outputs[f"html_{lang}"])
    direction = "rtl" if lang == "he" else "ltr"
    assert re.search(rf'<html[^>]*lang="{lang}"', html)
    assert re.search(rf'<html[^>]*dir="{direction}"', html)
    for heading in HEADINGS[lang]:
        assert re.search(rf"<h2[^>]*>{re.escape(heading)}</h2>", html), heading
    for number in formatted_numbers(ctx, lang):
        assert number in html, f"{number!r} missing from the {lang} HTML"
    # the figure is embedded, not linked
    assert 'src="data:image/png;base64,' in html


def test_hebrew_tables_are_right_aligned(built):
    _, out, outputs = built
    html = html_text(outputs["html_he"])
    cells = re.findall(r'<t[hd] style="text-align: (\w+);"', html)
    assert cells and set(cells) == {"right"}
    source = (out / "report.he.qmd").read_text(encoding="utf-8")
    separators = [line for line in source.splitlines() if re.fullmatch(r"\|[-:|]+\|", line)]
    assert len(separators) == 4
    assert all(set(cell) == {"-", ":"} and cell.endswith(":") and not cell.startswith(":")
               for line in separators for cell in line.strip("|").split("|"))


@pytest.mark.parametrize("lang", ["en", "he"])
def test_pdf_text_has_numbers(built, lang):
    ctx, _, outputs = built
    text = squash(pdf_text(outputs[f"pdf_{lang}"]))
    for number in formatted_numbers(ctx, lang):
        # Hebrew words and units may come out of the PDF in visual order; the
        # digits of each number stay together in every language.
        parts = [number] if lang == "en" else re.findall(r"[0-9a-f.,:%e+\-]*\d[0-9a-f.,:%e+\-]*",
                                                         number)
        assert parts, number
        for part in parts:
            assert part in text, f"{part!r} (from {number!r}) missing from the {lang} PDF"


def test_pdf_text_has_english_headings(built):
    _, _, outputs = built
    lines = [squash(line).strip() for line in pdf_text(outputs["pdf_en"]).splitlines()]
    for heading in HEADINGS["en"]:
        assert heading in lines, heading


def test_pdf_text_has_hebrew_headings(built):
    """pypdf gives Hebrew words in logical order but may join or reorder them
    within a line, so a heading counts as present when one short line holds
    all its words and nothing else."""
    _, _, outputs = built
    lines = pdf_text(outputs["pdf_he"]).splitlines()
    for heading in HEADINGS["he"]:
        words = heading.split()
        hits = [line for line in lines
                if all(w in line for w in words)
                and len(line.replace(" ", "")) == len(heading.replace(" ", ""))]
        assert hits, f"heading {heading!r} not found in the Hebrew PDF"


def test_typst_source_keeps_hebrew_headings(built):
    """rtl.lua wraps the lang div, so pandoc does not glue the heading to a #set."""
    _, out, _ = built
    typ = (out / "vicreg-report.he.typ").read_text(encoding="utf-8")
    assert '#text(lang: "he", dir: rtl)[' in typ
    assert '#set text(lang: "he");' not in typ  # pandoc's own form, which loses the heading
    for heading in HEADINGS["he"]:
        assert re.search(rf"^== {re.escape(heading)}$", typ, re.M), heading


def test_index_links_the_four_documents(built):
    ctx, _, outputs = built
    index = outputs["index"].read_text(encoding="utf-8")
    for name in ("vicreg-report.en.html", "vicreg-report.en.pdf",
                 "vicreg-report.he.html", "vicreg-report.he.pdf"):
        assert f'href="{name}"' in index
    assert ctx["meta"]["title_en"] in index and ctx["meta"]["title_he"] in index
    assert 'lang="he" dir="rtl"' in index


# ---------------------------------------------------------------- comparisons

def flipped_context() -> dict:
    """Training hurt: the trained encoder below its random init, every loss rising,
    below the course threshold."""
    ctx = make_context()
    probe = ctx["probe"]
    probe["trained"], probe["random_init"] = probe["random_init"], probe["trained"]
    t = ctx["training"]
    t["first"], t["last"] = t["last"], t["first"]
    return ctx


def test_comparative_sentences_follow_the_numbers_en():
    good = render.render_markdown("en", make_context())
    bad = render.render_markdown("en", flipped_context())
    assert "self-supervised training added 26.36 pp" in squash(good)
    assert "What training added: nothing." in bad and "self-supervised training added" not in bad
    assert "*below* the 61.23% of its own random initialisation" in squash(bad)
    assert "clears the course's threshold" in squash(good)
    assert "falls short of the course's threshold of 60.00% by 25.13 pp" in squash(bad)
    assert "**Invariance** (mean squared distance between the projections of the two views) " \
           "fell: 0.912 → 0.217." in squash(good)
    assert "rose: 0.217 → 0.912." in squash(bad)
    assert "The total fell" in good and "The total rose" in bad


def test_comparative_sentences_follow_the_numbers_he():
    good = squash(render.render_markdown("he", make_context()))
    bad = squash(render.render_markdown("he", flipped_context()))
    assert "האימון בפיקוח עצמי הוסיף 26.36 נקודות אחוז" in good
    assert "**מה תרם האימון: כלום.**" in bad and "הוסיף 26.36" not in bad
    assert "התוצאה עוברת את הסף" in good and "התוצאה עוברת את הסף" not in bad
    assert "חסרות 25.13 נקודות אחוז כדי להגיע לסף" in bad
    assert "ירד מ-0.912 ל-0.217." in good and "עלה מ-0.217 ל-0.912." in bad


def test_equal_numbers_get_equal_wording():
    ctx = make_context()
    ctx["probe"]["random_init"]["test_acc"] = ctx["probe"]["trained"]["test_acc"]
    ctx["probe"]["trained"]["test_acc"] = ctx["probe"]["original"]["test_acc"] + 0.004
    ctx["probe"]["random_init"]["test_acc"] = ctx["probe"]["trained"]["test_acc"]
    en = squash(render.render_markdown("en", ctx))
    assert "What training added: nothing measurable." in en
    assert "within 1.00 pp of the original write-up's 72.40%" in en


def test_synthetic_data_is_called_out():
    ctx = make_context()
    ctx["setup"]["data_source"] = "synthetic:seed=0"
    en, he = render.render_markdown("en", ctx), render.render_markdown("he", ctx)
    assert "smoke run on generated images" in en and "תמונות סינתטיות" in he
    assert "standard release" not in en and "הגרסה הרשמית" not in he


def test_unverified_data_is_called_out():
    ctx = make_context()
    verified = squash(render.render_markdown("en", ctx))
    ctx["setup"]["data_verified"] = False
    unverified = squash(render.render_markdown("en", ctx))
    assert "every published checksum known for this source matched" in verified
    assert "treat the data as unverified" in unverified
    assert "treat the data as unverified" not in verified
    assert "כלא-מאומתים" in render.render_markdown("he", ctx)


# ---------------------------------------------------------------- errors

def test_missing_key_is_a_clear_error():
    ctx = make_context()
    del ctx["probe"]["trained"]["test_acc"]
    del ctx["training"]["test_last"]
    with pytest.raises(render.RenderError) as err:
        render.render_markdown("he", ctx)
    assert "probe.trained.test_acc" in str(err.value)
    assert "training.test_last" in str(err.value)
    assert isinstance(err.value, VicregError)


def test_templates_are_strict():
    """Without the schema check, StrictUndefined still refuses a missing key."""
    ctx = make_context()
    del ctx["probe"]["random_init"]["train_acc"]
    template = render.make_environment().get_template("report.en.md.j2")
    with pytest.raises(jinja2.UndefinedError, match="train_acc"):
        template.render(**ctx)


def test_unknown_value_in_template_names_the_line():
    ctx = make_context()
    ctx["setup"]["profile"]["arch"] = "vit"
    with pytest.raises(render.RenderError, match=r"jinja2: rendering report\.en\.md\.j2 line \d+"):
        render.render_markdown("en", ctx)


def test_wrong_type_is_a_render_error():
    ctx = make_context()
    ctx["probe"]["trained"]["test_acc"] = None
    with pytest.raises(render.RenderError, match="expects a number"):
        render.render_markdown("en", ctx)


def test_unknown_language():
    with pytest.raises(render.RenderError, match="fr"):
        render.render_markdown("fr", make_context())


def test_missing_figure_writes_nothing(tmp_path):
    with pytest.raises(render.RenderError, match="training_curves.png"):
        render.build_document(make_context(), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_failed_step_leaves_no_partial_output(tmp_path, monkeypatch):
    ctx = make_context()
    write_figure(tmp_path, ctx["training"]["figure"])
    before = render.build_document(ctx, tmp_path)
    old = {key: path.read_bytes() for key, path in before.items()}

    calls = []

    def failing_typst(typ, root, timestamp=None):
        calls.append(typ)
        if len(calls) == 2:
            raise render.RenderError("typst: compiling (simulated) failed")
        return b"%PDF-1.7 stub"

    monkeypatch.setattr(render, "_typst_pdf", failing_typst)
    ctx["probe"]["trained"]["test_acc"] = 0.7777
    with pytest.raises(render.RenderError, match="typst"):
        render.build_document(ctx, tmp_path)
    # the earlier complete set is untouched, nothing half-written beside it
    assert {key: path.read_bytes() for key, path in before.items()} == old
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_pandoc_failure_names_the_tool(tmp_path, monkeypatch):
    import pypandoc

    ctx = make_context()
    write_figure(tmp_path, ctx["training"]["figure"])

    def broken(*args, **kwargs):
        raise RuntimeError("Pandoc died with exitcode 1")

    monkeypatch.setattr(pypandoc, "convert_file", broken)
    with pytest.raises(render.RenderError, match=r"pandoc: converting report\.en\.qmd to html5"):
        render.build_document(ctx, tmp_path)
    assert not list(tmp_path.glob("vicreg-report.*"))
    assert not list(tmp_path.glob(".*.tmp"))


# ---------------------------------------------------------------- templates

# names and layout, not results
ALLOWED_DIGITS = ("CIFAR-10", "ResNet-18", "resnet18", "ICLR 2022", "SHA-256", "width=100%")


@pytest.mark.parametrize("lang", ["en", "he"])
def test_templates_hold_no_literal_numbers(lang):
    text = (render.TEMPLATES_DIR / f"report.{lang}.md.j2").read_text(encoding="utf-8")
    text = re.sub(r"\{##.*?##\}", "", text, flags=re.S)
    for allowed in ALLOWED_DIGITS:
        text = text.replace(allowed, "")
    leftovers = re.findall(r".{0,20}\d.{0,20}", text)
    assert not leftovers, leftovers


def test_paths_are_under_the_repository():
    assert (render.TEMPLATES_DIR / "report.en.md.j2").is_file()
    assert (render.REPORT_DIR / "_quarto.yml").is_file()
    assert render.REPO_ROOT == Path(render.__file__).resolve().parents[2]


def test_quarto_probe(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert render.quarto_available() is False
    with pytest.raises(render.RenderError, match="quarto"):
        render.render_with_quarto(Path("."))


def test_build_is_reproducible(built, tmp_path):
    """Same context and figure, same bytes: the PDF dates come from meta.generated."""
    ctx, out, outputs = built
    (tmp_path / "figures").mkdir()
    (tmp_path / ctx["training"]["figure"]).write_bytes((out / ctx["training"]["figure"]).read_bytes())
    again = render.build_document(ctx, tmp_path)
    for key in outputs:
        assert again[key].read_bytes() == outputs[key].read_bytes(), key
    assert b"D:20261128100000" in again["pdf_en"].read_bytes()
