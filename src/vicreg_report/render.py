"""Context dict -> the document in every language: markdown/Quarto sources, HTML, PDF.

``render_markdown`` fills the structure template (templates/report.md.j2, which
includes each experiment's section, templates/sections/<section>.md.j2) with the
context and one language's catalogue (templates/lang/<lang>.toml, see
:mod:`vicreg_report.catalogue`).  ``build_document`` writes a self-contained
document project into a folder: the Quarto project files from ``report/``, one
``report.<lang>.qmd`` per catalogue and from each, with pandoc and typst (no Quarto
needed),

    vicreg-report.<lang>.html  vicreg-report.<lang>.pdf
    index.html             (links to every document, in each language)
    numbers.json           (every number written, with the context path it came from)

Every number is bound to its source (:mod:`vicreg_report.binding`); numbers.json is
the record of what the filters wrote.

Every output is first written under a temporary name and renamed into place
only once all of them are built, so a failure leaves no partial file under a
final name (and an earlier complete set untouched).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from . import paths
from .binding import NumberRegistry
from .catalogue import Catalogue, languages, load, load_all
from .context_schema import FIGURE_KEYS, validate_context
from .errors import RenderError
from .results import atomic_write, temp_beside
from .templating import make_environment, render_template
from .toolchain import pandoc, quarto_render, typst_pdf, unix_time

REPORT_TEMPLATE = "report.md.j2"
INDEX_TEMPLATE = "index.html.j2"
OUTPUT_STEM = "vicreg-report"
# Files of the document project copied from report/ into the output folder.
PROJECT_FILES = ("_quarto.yml", "styles.css", "template.typ", "filters/rtl.lua",
                 "filters/callout.lua")
LUA_FILTERS = ("filters/rtl.lua", "filters/callout.lua")
NUMBERS_FILE = "numbers.json"


def render_markdown(lang: str, context: dict, registry: NumberRegistry | None = None,
                    catalogue: Catalogue | None = None) -> str:
    """One language's report as pandoc markdown (a valid Quarto document); with a
    ``registry``, every number written is recorded there with its context path."""
    catalogue = catalogue or load(lang)
    validate_context(context)
    return render_template(make_environment(catalogue, registry=registry), REPORT_TEMPLATE,
                           context)


def output_names(langs: tuple[str, ...] | None = None) -> dict[str, str]:
    """Keys of ``build_document``'s result -> file names in the output folder."""
    names = {}
    for lang in langs or languages():
        names[f"html_{lang}"] = f"{OUTPUT_STEM}.{lang}.html"
        names[f"pdf_{lang}"] = f"{OUTPUT_STEM}.{lang}.pdf"
    names["index"] = "index.html"
    return names


def _copy_project(out_dir: Path) -> None:
    for rel in PROJECT_FILES:
        src = paths.REPORT_DIR / rel
        if not src.is_file():
            raise RenderError(f"copy: the document project file {src} is missing")
        atomic_write(out_dir / rel, src.read_bytes())


def _check_figures(context: dict, out_dir: Path) -> None:
    """Every figure of FIGURE_KEYS must exist under ``out_dir``; the error names all missing."""
    missing = [str(out_dir / context[section][key]) for section, key in FIGURE_KEYS
               if not (out_dir / context[section][key]).is_file()]
    if missing:
        raise RenderError(f"render: the figure{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(missing)} do{'' if len(missing) > 1 else 'es'} not exist; "
                          "put the figures under the output folder before rendering")


def build_document(context: dict, out_dir: Path) -> dict[str, Path]:
    """Write the document project and each language's HTML and PDF into ``out_dir``.

    Returns {"html_<lang>", "pdf_<lang>" for every language, "index", "numbers"} -> path
    (``numbers``: numbers.json, every number written with its context path).  The
    figures named in the context (FIGURE_KEYS) must already exist, relative to
    ``out_dir``.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    validate_context(context)
    _check_figures(context, out_dir)
    # Every template first: a template or catalogue error writes nothing.
    catalogues = load_all()
    registry = NumberRegistry()
    markdown = {lang: render_markdown(lang, context, registry, catalogue)
                for lang, catalogue in catalogues.items()}
    names = output_names(tuple(catalogues))
    index = render_template(make_environment(autoescape=True, registry=registry),
                            INDEX_TEMPLATE, {"meta": context["meta"], "files": names,
                                             "languages": list(catalogues.values())})
    numbers = json.dumps(registry, ensure_ascii=False, indent=1) + "\n"
    created = unix_time(context["meta"]["generated"])

    _copy_project(out_dir)
    sources = {lang: atomic_write(out_dir / f"report.{lang}.qmd", text)
               for lang, text in markdown.items()}

    staged: dict[str, Path] = {}   # final name -> temporary file holding it

    def stage(name: str) -> Path:
        staged[name] = temp_beside(out_dir / name)
        return staged[name]

    try:
        for lang, source in sources.items():
            pandoc(source, "html5", stage(names[f"html_{lang}"]), [
                "--standalone", "--embed-resources", "--css=styles.css",
                f"--resource-path={out_dir}", f"--metadata=lang:{lang}",
                f"--metadata=dir:{catalogues[lang].dir}",
            ], cwd=out_dir)
            typ = stage(f"{OUTPUT_STEM}.{lang}.typ")
            pandoc(source, "typst", typ, [
                "--standalone", "--template=template.typ",
                *(f"--lua-filter={f}" for f in LUA_FILTERS),
            ], cwd=out_dir)
            stage(names[f"pdf_{lang}"]).write_bytes(typst_pdf(typ, out_dir, created))
        stage(names["index"]).write_text(index, encoding="utf-8")
        stage(NUMBERS_FILE).write_text(numbers, encoding="utf-8")
        for final, tmp in staged.items():
            os.replace(tmp, out_dir / final)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
    return {**{key: out_dir / name for key, name in names.items()},
            "numbers": out_dir / NUMBERS_FILE}


def render_with_quarto(out_dir: Path, timeout_s: float = 600) -> dict[str, Path]:
    """Render a folder written by ``build_document`` with ``quarto render``.

    Quarto writes report.<lang>.html and report.<lang>.pdf; they are renamed to
    the same names ``build_document`` uses.
    """
    out_dir = Path(out_dir).resolve()
    quarto_render(out_dir, timeout_s)
    outputs = {}
    for lang in languages():
        for ext in ("html", "pdf"):
            produced = out_dir / f"report.{lang}.{ext}"
            if not produced.is_file():
                raise RenderError(f"quarto: `quarto render` did not produce {produced.name}")
            final = out_dir / f"{OUTPUT_STEM}.{lang}.{ext}"
            os.replace(produced, final)
            outputs[f"{ext}_{lang}"] = final
    return outputs
