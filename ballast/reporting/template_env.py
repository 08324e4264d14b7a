"""The Jinja machinery of the reports: an environment that looks dict keys up directly and
writes autoescaped output without building a ``Markup`` per value, and a loader that inlines
partials. What a template renders to is unchanged by either; only the work per value is.

A report writes a few hundred values (``{{ ... }}``) and ten thousand reports are millions: at
that count Jinja's per-value overheads (an ``AttributeError`` raised and caught for every dict
key, a ``Markup`` object built for every escaped value, a new context for every include) were
a large share of a review's rendering time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jinja2
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Expr, Output, TemplateData
from markupsafe import escape

try:  # MarkupSafe 3: the C escaper behind ``escape``, returning a plain str
    from markupsafe import _escape_inner
except ImportError:  # pragma: no cover - an older MarkupSafe: the same text, one more object

    def _escape_inner(s: str, /) -> str:
        return str(escape(s))


def escape_output(value: Any, /) -> str:
    """What ``markupsafe.escape`` writes for ``value`` (``__html__`` for safe values, else the
    escaped ``str``), as a plain ``str``: an autoescaped template only joins its output, so the
    ``Markup`` that ``escape`` wraps it in is never used."""
    if type(value) is str:
        return _escape_inner(value)
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return _escape_inner(str(value))


class _OutputCodeGenerator(CodeGenerator):
    """Jinja's code generator, writing each autoescaped value through ``escape_output``.

    Output in a buffer (a macro, a ``{% set %}`` or ``{% call %}`` block) is still returned as
    ``Markup(concat(buffer))`` by Jinja, so a value written there stays safe as before."""

    def _output_child_pre(self, node: Expr, frame: Frame, finalize: Any) -> None:
        if frame.eval_ctx.volatile or not frame.eval_ctx.autoescape:
            super()._output_child_pre(node, frame, finalize)
            return
        self.write("environment.escape_output(")
        if finalize.src is not None:
            self.write(finalize.src)

    def visit_Output(self, node: Output, frame: Frame) -> None:
        """Jinja writes one ``yield`` per piece of an output node; several pieces written
        straight to the page are joined first and yielded once (the same text, in the same
        order: fewer resumptions of the template's generator)."""
        simple = (
            frame.buffer is None
            and not frame.require_output_check
            and not frame.eval_ctx.volatile
            and frame.eval_ctx.autoescape
            and self._make_finalize().src is None
            and sum(not isinstance(child, TemplateData) for child in node.nodes) > 1
        )
        if not simple:
            super().visit_Output(node, frame)
            return
        self.writeline("yield ''.join((")
        self.indent()
        for child in node.nodes:
            if isinstance(child, TemplateData):
                self.writeline(repr(child.data) + ",")
            else:
                self.newline(child)
                self.write("environment.escape_output(")
                self.visit(child, frame)
                self.write("),")
        self.outdent()
        self.writeline("))")


_DICT_ATTRIBUTES = frozenset(dir(dict))


class ReportEnvironment(jinja2.Environment):
    """Jinja's environment, with ``a.b`` on a plain dict looked up as ``a["b"]`` first, and
    autoescaped values written by ``escape_output``.

    Jinja tries ``getattr(a, "b")`` first, which on a dict raises (and catches) an
    AttributeError for every key: hundreds per report. A plain dict has no attributes but its
    methods, so for any other name the result is the same, only without the exception."""

    code_generator_class = _OutputCodeGenerator
    escape_output = staticmethod(escape_output)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


_INCLUDE = re.compile(r'^[ \t]*\{% include "([^"]+)" %\}\n?', re.MULTILINE)


class InliningLoader(jinja2.FileSystemLoader):
    """Templates from the templates folder, each ``{% include "partial" %}`` line replaced by
    the partial's own source, so a report compiles to one template.

    Jinja renders an include through a fresh context and one more generator level, for every
    report, every partial and every piece of output; inlined, the partials cost nothing. The
    text is the same: the tag's line (its indent, and its newline under ``trim_blocks``) becomes
    exactly what the partial renders to. Only includes of a literal name, alone on their line,
    are inlined (any other stays a normal include). A partial's top-level ``{% set %}`` is then
    seen by the rest of the including template: partials use distinct names for them."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        checks = [uptodate]

        def inline(match: re.Match[str]) -> str:
            text, _, check = self.get_source(environment, match.group(1))
            checks.append(check)
            return text

        source = _INCLUDE.sub(inline, source)
        return source, filename, lambda: all(check() for check in checks)
