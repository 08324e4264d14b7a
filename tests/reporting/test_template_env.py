"""The report environment's code generator: each value written without a ``Markup`` of its
own, and an output's pieces joined before they are yielded, must write what Jinja's own code
generator writes, escaping included."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.compiler import CodeGenerator
from markupsafe import Markup, escape

from ballast.reporting import html, template_env
from tests.reporting.test_report_bytes import cases


class _JinjaOwn(template_env.ReportEnvironment):
    code_generator_class = CodeGenerator


def _environments() -> tuple[Any, Any]:
    """(the report environment, the same with Jinja's own code generator)."""
    return html.make_environment(), html.make_environment(_JinjaOwn)


class _Safe:
    def __html__(self) -> str:
        return "<b>safe</b>"

    def __str__(self) -> str:
        return "<b>unsafe</b>"


class _Text(str):
    """A str subclass: escaped as its str, like ``escape`` does."""


@pytest.mark.parametrize(
    "value",
    ["a<b>&'\"", "", Markup("<i>kept</i>"), 12, 1.5, None, True, _Safe(), _Text("<x>")],
)
def test_escape_output_writes_what_escape_writes(value: Any) -> None:
    out = template_env.escape_output(value)
    assert out == str(escape(value)) and type(out) is str


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_escape_output_of_any_text_is_escapes_text(text: str) -> None:
    assert template_env.escape_output(text) == str(escape(text))


def test_every_report_page_is_what_jinjas_own_code_generator_writes() -> None:
    fast, own = _environments()
    for name, ctx in cases().items():
        rc = html.report_context(ctx)
        page = fast.get_template("report.html.j2").render(rc)
        assert page == own.get_template("report.html.j2").render(rc), name
    assert "environment.escape_output(" in fast.compile(
        fast.loader.get_source(fast, "report.html.j2")[0], raw=True
    )


def test_the_index_page_is_what_jinjas_own_code_generator_writes() -> None:
    fast, own = _environments()
    hostile = cases()["hostile"]
    run, portfolios = hostile["run"], [cases()["seed"]["portfolio"], hostile["portfolio"]]
    pages = [html.render_run_index(run, portfolios, env) for env in (fast, own)]
    assert pages[0] == pages[1] and "&lt;" in pages[0]


@pytest.mark.parametrize(
    "source",
    [
        "{{ v }}<p>{{ v }} and {{ s }}</p>",
        "{% macro m(x) %}<b>{{ x }}</b>{% endmacro %}{{ m(v) }}|{{ m(s) }}",
        "{% set block %}<i>{{ v }}</i>{% endset %}{{ block }}{{ block | length }}",
        "{% for x in [v, s, 3] %}[{{ loop.index }}:{{ x }}]{% endfor %}",
        "{% if v %}{{ v ~ s }}{% else %}none{% endif %}{{ 'a<b' }}{{ 1 + 2 }}",
        "{% autoescape false %}{{ v }}{% endautoescape %}{{ v }}",
    ],
)
def test_template_constructs_write_the_same_text(source: str) -> None:
    """Values, macros and ``{% set %}`` blocks (their output stays safe), loops, constants
    and a block with escaping turned off."""
    fast, own = _environments()
    values = {"v": "<a href='x'>&</a>", "s": Markup("<em>ok</em>")}
    out = fast.from_string(source).render(values)
    assert out == own.from_string(source).render(values)
    assert "&lt;a href=" in out
