"""The context the template reads: a missing key, a wrong type or an unknown value is a
RenderError that names the key or the template line."""

from __future__ import annotations

import jinja2
import pytest

from sample_context import make_context
from vicreg_report import catalogue, render
from vicreg_report.context_schema import missing_keys
from vicreg_report.errors import RenderError, VicregError
from vicreg_report.templating import make_environment


def test_missing_key_is_a_clear_error():
    ctx = make_context()
    del ctx["probe"]["trained"]["test_acc"]
    del ctx["training"]["test_last"]
    with pytest.raises(RenderError) as err:
        render.render_markdown("he", ctx)
    assert "probe.trained.test_acc" in str(err.value)
    assert "training.test_last" in str(err.value)
    assert isinstance(err.value, VicregError)


def test_missing_list_item_key_is_named():
    ctx = make_context()
    del ctx["claims"][2]["verdict"]
    del ctx["summary"][0]["original"]
    with pytest.raises(RenderError) as err:
        render.render_markdown("en", ctx)
    assert "claims[2].verdict" in str(err.value)
    assert "summary[0].original" in str(err.value)


def test_schema_covers_every_section():
    for key in ("meta", "setup", "training", "probe", "probes", "q2", "q4", "q5", "q6", "q7",
                "anomaly", "clustering", "original", "claims", "summary", "seeds", "stale",
                "stale_sections", "provenance"):
        ctx = make_context()
        del ctx[key]
        assert missing_keys(ctx) == [key]


def test_template_is_strict():
    """Without the schema check, StrictUndefined still refuses a missing key."""
    ctx = make_context()
    del ctx["probe"]["random_init"]["train_acc"]
    template = make_environment(catalogue.load("en")).get_template(render.REPORT_TEMPLATE)
    with pytest.raises(jinja2.UndefinedError, match="train_acc"):
        template.render(**ctx)


def test_unknown_value_in_template_names_the_line():
    """An encoder architecture the catalogue has no words for."""
    ctx = make_context()
    ctx["setup"]["profile"]["arch"] = "vit"
    with pytest.raises(RenderError, match=r"jinja2: rendering report\.md\.j2 line \d+: "
                                          r"catalogue: en\.toml has no message 'arch\.vit'"):
        render.render_markdown("en", ctx)


def test_wrong_type_is_a_render_error():
    ctx = make_context()
    ctx["probe"]["trained"]["test_acc"] = None
    with pytest.raises(RenderError, match="expects a number"):
        render.render_markdown("en", ctx)


def test_unknown_language():
    with pytest.raises(RenderError, match="no catalogue for the language 'fr'"):
        render.render_markdown("fr", make_context())
