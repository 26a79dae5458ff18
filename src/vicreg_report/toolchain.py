"""The tools that turn the markdown into documents: pandoc, typst and, where
installed, Quarto.  Each failure is a RenderError that names the tool and the step."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from .errors import RenderError


def pandoc(source: Path, to: str, output: Path, extra_args: list[str], cwd: Path) -> None:
    """Convert the markdown ``source`` to the format ``to``, written to ``output``."""
    import pypandoc

    try:
        pypandoc.convert_file(str(source), to, format="markdown", outputfile=str(output),
                              extra_args=extra_args, cworkdir=str(cwd))
    except (RuntimeError, OSError) as exc:
        raise RenderError(f"pandoc: converting {source.name} to {to} failed: {exc}") from exc
    if not output.is_file() or output.stat().st_size == 0:
        raise RenderError(f"pandoc: converting {source.name} to {to} produced no output")


def unix_time(iso: str) -> int | None:
    """Seconds since the epoch of an ISO-8601 time (UTC if no zone); None if unreadable."""
    try:
        t = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return int(t.timestamp())


def typst_pdf(typ: Path, root: Path, timestamp: int | None = None) -> bytes:
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


def quarto_available() -> bool:
    """Whether the ``quarto`` command is on PATH."""
    return shutil.which("quarto") is not None


def quarto_render(project: Path, timeout_s: float = 600) -> None:
    """``quarto render`` in a project folder."""
    quarto = shutil.which("quarto")
    if quarto is None:
        raise RenderError("quarto: the quarto command is not on PATH")
    try:
        subprocess.run([quarto, "render"], cwd=project, check=True, capture_output=True,
                       text=True, timeout=timeout_s)
    except subprocess.CalledProcessError as exc:
        raise RenderError(f"quarto: `quarto render` in {project} failed "
                          f"(exit {exc.returncode}): {exc.stderr.strip()[-2000:]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"quarto: `quarto render` in {project} ran past {timeout_s} s") from exc
