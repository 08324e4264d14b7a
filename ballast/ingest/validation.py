"""Validate a typed custodian frame against its Great Expectations suite (``expectations/``).

Pure: no Prefect, no I/O beyond reading the suites. ``great_expectations`` costs seconds to
import, so it is imported lazily, once, with one ephemeral context cached for the process.
GX validates pandas frames: Decimal columns become float64, after any exact derived column
(e.g. ``market_value_excess``) has been computed in Polars.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any

import polars as pl

from ballast.kinds import ALL_KINDS
from ballast.resources import expectations_dir

RESULT_FORMAT: dict[str, Any] = {
    # SUMMARY with the frame indexed by ``line`` and values excluded: GX then lists the failing
    # lines without a per-row Python loop (100x faster on large failing files).
    "result_format": "SUMMARY",
    "unexpected_index_column_names": ["line"],
    "exclude_unexpected_values": True,
}
FAST_FORMAT: dict[str, Any] = {"result_format": "BOOLEAN_ONLY"}
"""First pass: about half the cost; a frame that fails is validated again with RESULT_FORMAT."""
MAX_AUDIT_LINES = 100
"""Failing lines kept per expectation in ``ValidationOutcome.result`` (the count is complete)."""
_UNIQUE = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
_GX_LOCK = threading.RLock()  # one shared GX context: Prefect may call from worker threads


@dataclass(frozen=True)
class Failure:
    """One failed expectation, located at its first failing source line."""

    expectation: str
    column: str | None
    line: int | None
    message: str


@dataclass(frozen=True)
class ValidationOutcome:
    """The outcome of validating one file's frame against its kind's suite."""

    kind: str
    success: bool
    evaluated: int
    failures: list[Failure]
    result: dict[str, Any]


# --- suites and derived columns ----------------------------------------------------------


@cache
def suite_spec(kind: str) -> dict[str, Any]:
    """The suite for ``kind`` as stored: ``expectations/<kind>.json``."""
    if kind not in ALL_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    path = expectations_dir() / f"{kind}.json"
    spec: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return spec


def _market_value_excess(meta: Mapping[str, Any]) -> pl.Expr:
    """|market_value - quantity * price| - max(abs tol, rel tol * |market_value|), exact."""
    tol = meta["tolerance"]["market_value"]
    wide = pl.Decimal(38, 12)
    mv = pl.col("market_value").cast(wide)
    product = pl.col("quantity").cast(wide) * pl.col("price").cast(wide)
    allowed = pl.max_horizontal(
        pl.lit(Decimal(tol["absolute"]), dtype=wide),
        (mv.abs() * pl.lit(Decimal(tol["relative"]), dtype=wide)).cast(wide),
    )
    return ((mv - product).abs() - allowed).cast(wide)


DerivedFn = Callable[[Mapping[str, Any]], pl.Expr]
DERIVED: dict[str, dict[str, tuple[tuple[str, ...], DerivedFn]]] = {
    "positions": {
        "market_value_excess": (("market_value", "quantity", "price"), _market_value_excess),
    },
}
"""Per kind: derived column -> (the columns it needs, its expression from the suite meta)."""


@cache
def _gx_suite(kind: str) -> Any:
    import great_expectations as gx

    return gx.ExpectationSuite(**suite_spec(kind))


@cache
def _batch_definition() -> Any:
    """One ephemeral GX context per process, progress bars off, with a pandas frame asset."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX pins this module's logger to INFO and announces a temporary docs folder on every start
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("ballast").add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole_frame")


def warm_up() -> None:
    """Import GX and build the context now (a few seconds), not at the first validation."""
    with _GX_LOCK:
        _batch_definition()


# --- frame preparation -------------------------------------------------------------------


def _prepared(kind: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame GX sees: line-ordered, optional columns filled, derived columns added."""
    spec = ALL_KINDS[kind]
    if "line" not in frame.columns:
        frame = frame.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))
    elif not frame["line"].is_sorted():
        frame = frame.sort("line")
    present = [c for c in spec.all_columns if c in frame.columns]
    missing_optional = [c for c in (spec.optional or {}) if c not in frame.columns]
    frame = frame.select("line", *present).with_columns(
        pl.lit(None, dtype=pl.String).alias(c) for c in missing_optional
    )
    meta = suite_spec(kind).get("meta", {})
    derived = [
        fn(meta).alias(name)
        for name, (needs, fn) in DERIVED.get(kind, {}).items()
        if all(c in frame.columns for c in needs)
    ]
    return frame.with_columns(derived) if derived else frame


def _to_pandas(frame: pl.DataFrame) -> Any:
    """A pandas copy for GX, indexed by ``line``: Decimal columns as float64, the rest as is."""
    decimals = [c for c, t in frame.schema.items() if isinstance(t, pl.Decimal)]
    return frame.with_columns(pl.col(decimals).cast(pl.Float64)).to_pandas().set_index("line")


# --- failures ----------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "0") else text
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _columns(config: Mapping[str, Any]) -> list[str]:
    kwargs = config["kwargs"]
    if "column_list" in kwargs:
        return list(kwargs["column_list"])
    return [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]


def _lines(gx_result: Mapping[str, Any]) -> list[int]:
    """The failing lines GX listed (``{"line": [..]}`` or ``{"line": n}`` entries)."""
    lines: list[int] = []
    for entry in gx_result.get("partial_unexpected_index_list") or []:
        value = entry.get("line")
        lines.extend(value if isinstance(value, list) else [value])
    return [int(n) for n in lines if n is not None]


def _row(frame: pl.DataFrame, line: int) -> dict[str, Any]:
    return frame.filter(pl.col("line") == line).row(0, named=True)


def _found(frame: pl.DataFrame, line: int, config: Mapping[str, Any]) -> str:
    """What the first failing row holds, for the message (nothing for not-null checks)."""
    kind = config["type"]
    if kind == "expect_column_values_to_not_be_null":
        return ""
    cols = [c for c in (config["meta"].get("found") or _columns(config)) if c in frame.columns]
    row = _row(frame, line)
    if len(cols) == 1:
        found = f"found {_show(row[cols[0]])}"
    else:
        found = "found " + ", ".join(f"{c} {_show(row[c])}" for c in cols)
    if kind in _UNIQUE and (others := _same_key(frame, row, cols)):
        shown = ", ".join(map(str, others[:5])) + (", ..." if len(others) > 5 else "")
        found += f", also on row{'s' if len(others) > 1 else ''} {shown}"
    return found + "; "


def _same_key(frame: pl.DataFrame, row: Mapping[str, Any], cols: list[str]) -> list[int]:
    """Up to six other lines holding the same key as ``row``."""
    same = pl.all_horizontal(pl.col(c) == row[c] for c in cols) & (pl.col("line") != row["line"])
    return frame.filter(same)["line"].head(6).to_list()


def _where(file_label: str, line: int | None, columns: list[str]) -> str:
    where = file_label if line is None else f"{file_label}, row {line}"
    if columns:
        where += (", column " if len(columns) == 1 else ", columns ") + ", ".join(columns)
    return where


def _failure(file_label: str, frame: pl.DataFrame, item: Mapping[str, Any]) -> Failure | None:
    """The failure for one GX result item, or None when it is covered by a missing column."""
    config = item["expectation_config"]
    meta, kind = config.get("meta") or {}, config["type"]
    columns = [meta["column"]] if "column" in meta else _columns(config)
    column = ", ".join(columns) or None
    rule = meta.get("rule", kind.replace("_", " "))
    if kind == "expect_column_to_exist":
        return Failure(kind, column, 1, f"{_where(file_label, 1, columns)}: {rule}")
    if _raised(item):
        if any(c not in frame.columns for c in _columns(config)):
            return None  # the missing column is reported by expect_column_to_exist
        why = f"check {kind} could not run ({_exception_message(item)})"
        return Failure(kind, column, None, f"{_where(file_label, None, columns)}: {why}")
    gx_result = item.get("result") or {}
    lines = _lines(gx_result)
    line = min(lines) if lines else None
    found = _found(frame, line, config) if line is not None else ""
    count = int(gx_result.get("unexpected_count") or 0)
    detail = f"{rule} ({found}{count} {'row fails' if count == 1 else 'rows fail'})"
    return Failure(kind, column, line, f"{_where(file_label, line, columns)}: {detail}")


def _raised(item: Mapping[str, Any]) -> bool:
    info = item.get("exception_info") or {}
    if "raised_exception" in info:
        return bool(info["raised_exception"])
    return any(isinstance(v, dict) and v.get("raised_exception") for v in info.values())


def _exception_message(item: Mapping[str, Any]) -> str:
    info = item.get("exception_info") or {}
    if "exception_message" in info:
        return str(info["exception_message"])
    msgs = [v.get("exception_message") for v in info.values() if isinstance(v, dict)]
    return str(next((m for m in msgs if m), "unknown error")).splitlines()[0]


def _sort_key(failure: Failure) -> tuple[int, str, str]:
    return (failure.line or 0, failure.column or "", failure.expectation)


# --- the entry point ---------------------------------------------------------------------


def validate_frame(kind: str, frame: pl.DataFrame, file_label: str) -> ValidationOutcome:
    """Validate one typed frame (with its ``line`` column) against ``expectations/<kind>.json``.

    A passing frame's ``result`` is GX's BOOLEAN_ONLY result (each expectation and its success);
    a failing frame's is the SUMMARY result, with counts and up to ``MAX_AUDIT_LINES`` lines.
    """
    if kind not in ALL_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    prepared = _prepared(kind, frame)
    result = _run_suite(kind, _to_pandas(prepared))
    failures = [
        f
        for item in result["results"]
        if not item["success"] and (f := _failure(file_label, prepared, item)) is not None
    ]
    return ValidationOutcome(
        kind=kind,
        success=bool(result["success"]),
        evaluated=len(result["results"]),
        failures=sorted(failures, key=_sort_key),
        result=_trimmed(result),
    )


def _run_suite(kind: str, data: Any) -> dict[str, Any]:
    """GX's result for ``data``: a cheap BOOLEAN_ONLY pass, then SUMMARY only if it fails."""
    with _GX_LOCK:
        suite = _gx_suite(kind)
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": data})
        result: dict[str, Any] = batch.validate(suite, result_format=FAST_FORMAT).to_json_dict()
        if not result["success"]:
            result = batch.validate(suite, result_format=RESULT_FORMAT).to_json_dict()
    return result


def _trimmed(result: dict[str, Any]) -> dict[str, Any]:
    """The result with each expectation's listed failing lines cut to ``MAX_AUDIT_LINES``."""
    for item in result["results"]:
        for entry in (item.get("result") or {}).get("partial_unexpected_index_list") or []:
            if isinstance(entry.get("line"), list):
                entry["line"] = entry["line"][:MAX_AUDIT_LINES]
    return result
