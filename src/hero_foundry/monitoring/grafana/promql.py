"""The PromQL of a dashboard: every query it holds, with Grafana's variables replaced so that a
PromQL parser can read it, and the metric names each query reads.

Parsing uses ``promql-parser`` (Python bindings of the Rust ``promql-parser`` crate, a port of
Prometheus' own grammar) when it is installed. The test suite also hands every query to
``promtool check rules``, i.e. to Prometheus' parser itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: Grafana's built-in interval variables and what they become in a query we parse.
BUILTIN = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "__rate_interval_ms": "300000",
    "__interval_ms": "60000",
    "__range_s": "3600",
    "__range_ms": "3600000",
}
#: ``$name``, ``${name}``, ``${name:format}`` and the deprecated ``[[name]]``.
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)(?::[^\]]*)?\]\]")
#: ``label_values(label)`` or ``label_values(selector, label)``: a variable query, not PromQL.
_LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(?:(?P<selector>.+),\s*)?(?P<label>\w+)\s*\)\s*$", re.S
)


class PromQLError(ValueError):
    """A query that does not parse, or selects metrics by something other than their name."""


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard, and where it is."""

    dashboard: str  # file name
    where: str  # "panel 'Request Rate' (A)", "variable $job", "annotation 'Firing alerts'"
    expr: str  # as written in the dashboard, with Grafana variables

    @property
    def promql(self) -> str:
        """The expression a parser reads: variables replaced, ``label_values`` unwrapped."""
        return to_promql(self.expr)


def substitute(expr: str, values: Mapping[str, str] | None = None) -> str:
    """Replace Grafana variables: intervals by durations, template variables by ``values``
    (by default ``.+``, "All").

    A template variable is only meant for a label matcher's value (``job=~"$job"``), where
    ``.+`` is a valid regular expression; anywhere else the result does not parse, which is
    the right verdict for such a query.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return BUILTIN.get(name) or (values or {}).get(name, ".+")

    return _VARIABLE.sub(replace, expr)


def to_promql(expr: str, values: Mapping[str, str] | None = None) -> str:
    """The PromQL inside a query: ``label_values(sel, label)`` becomes ``sel`` (``up`` when
    there is no selector), everything else stays; then :func:`substitute`."""
    match = _LABEL_VALUES.match(expr)
    if match:
        expr = match.group("selector") or "up"
    return substitute(expr, values)


def _parser() -> Any:
    try:
        import promql_parser
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "promql-parser is not installed: pip install 'promql-parser==0.11.0'"
        ) from exc
    return promql_parser


def parse(promql: str) -> Any:
    """The syntax tree of a PromQL expression; :class:`PromQLError` when it does not parse."""
    try:
        return _parser().parse(promql)
    except ValueError as exc:
        raise PromQLError(f"does not parse: {exc}") from exc


def metric_names(promql: str) -> set[str]:
    """Every metric name a PromQL expression reads.

    Names come from the syntax tree's vector selectors (``rate(x[5m])`` reads ``x``), so label
    names, label values, function names, keywords and ``by``/``without`` lists are never taken
    for metrics. ``{__name__="x"}`` names ``x``; a selector matching names by a regular
    expression cannot be checked and is refused.
    """
    parser = _parser()
    tree = parse(promql)
    names: set[str] = set()
    refused: list[str] = []

    def visit(node: Any) -> bool:
        if isinstance(node, parser.VectorSelector):
            if node.name:
                names.add(node.name)
            groups = [node.matchers.matchers, *(node.matchers.or_matchers or [])]
            for matcher in (m for group in groups for m in group):
                if matcher.name != "__name__":
                    continue
                if matcher.op == parser.MatchOp.Equal:
                    names.add(matcher.value)
                else:
                    refused.append(str(node))
        return True

    parser.walk(tree, visit)
    if refused:
        raise PromQLError(f"selects metric names by a pattern: {', '.join(refused)}")
    return names


#: Binary operators that filter their left operand by the right one: the value is the left's.
_SET_FILTERS = {"and", "unless"}
_COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}


def _ordered_names(tree: Any) -> list[str]:
    """The metric names of a syntax tree, in the order they are written, each once."""
    parser = _parser()
    names: list[str] = []

    def visit(node: Any) -> bool:
        if isinstance(node, parser.VectorSelector) and node.name and node.name not in names:
            names.append(node.name)
        return True

    parser.walk(tree, visit)
    return names


def signal_metric_names(promql: str) -> list[str]:
    """The metric names an alert's value comes from, in the order they are written.

    ``a > 0.05 and on (job) b >= 0.1`` is ``a``'s value where ``b`` also holds: ``b`` is a guard
    (minimum traffic, say), not the signal. So the right operand of ``and`` / ``unless`` is left
    out, and so is the number side of a filtering comparison; ``or`` keeps both sides (either is
    the value), arithmetic too (``errors / requests``).
    """
    parser = _parser()

    def signal(node: Any) -> list[Any]:
        if isinstance(node, parser.BinaryExpr):
            op = str(node.op)
            returns_bool = node.modifier is not None and node.modifier.return_bool
            if op in _SET_FILTERS:
                return signal(node.lhs)
            if op in _COMPARISONS and not returns_bool:
                # A filter keeps the vector side's value (the left one when both are vectors).
                return signal(node.rhs if isinstance(node.lhs, parser.NumberLiteral) else node.lhs)
            return [*signal(node.lhs), *signal(node.rhs)]
        if isinstance(node, parser.ParenExpr):
            return signal(node.expr)
        return [node]

    names: list[str] = []
    for part in signal(parse(promql)):
        names += [name for name in _ordered_names(part) if name not in names]
    return names


def queries(name: str, model: dict[str, Any]) -> Iterator[Query]:
    """Every Prometheus query of a dashboard's JSON model: panel targets (rows' nested panels
    included), query variables and annotations. Elasticsearch queries are not PromQL and are
    skipped."""

    def prometheus(ref: Any) -> bool:
        return isinstance(ref, dict) and ref.get("type") == "prometheus"

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels") or [])

    for panel in panels(model.get("panels") or []):
        for target in panel.get("targets") or []:
            source = target.get("datasource") or panel.get("datasource")
            if "expr" in target and (source is None or prometheus(source)):
                where = f"panel {panel.get('title')!r} ({target.get('refId', '?')})"
                yield Query(name, where, target["expr"])
    for variable in (model.get("templating") or {}).get("list") or []:
        if variable.get("type") == "query" and prometheus(variable.get("datasource")):
            query = variable.get("query")
            text = query.get("query", "") if isinstance(query, dict) else query
            yield Query(name, f"variable ${variable.get('name')}", text or "")
    for annotation in (model.get("annotations") or {}).get("list") or []:
        if annotation.get("expr") and prometheus(annotation.get("datasource")):
            yield Query(name, f"annotation {annotation.get('name')!r}", annotation["expr"])
