"""``ballast simulate``: every rebalancing policy side by side on history and simulated futures.

Runs the pure stages in ``ballast.simulate.run`` directly (no Prefect server: it is meant to be
fast enough to explore); ``flows/simulate.py`` is the same work as a Prefect flow. The simulator
(NumPy, pydantic, Jinja2) is imported when the command runs, not when it is registered.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from ballast.errors import BallastError, PolicyError

if TYPE_CHECKING:
    from ballast.portfolio.policy import Policy
    from ballast.simulate.config import SimulationConfig


def build_config(
    config: Path | None,
    maps: list[str],
    history: str | None,
    percent: bool,
    paths: int | None,
    years: int | None,
    seed: int | None,
    model: str | None,
    policies: list[str],
    duration: float | None,
    start: str | None,
    end: str | None,
    cost_bp: float | None,
    risk_free: str | None = None,
    policy: Policy | None = None,
    phase: str | None = None,
) -> SimulationConfig:
    """The config file (if any) with the command line's options laid over it. Given the
    ``policy`` and no mapping (bundled history), its classes are mapped by name
    (``simulate.config.assumed_mapping``). ``phase`` is ``N`` (0..11) or ``all``."""
    from pydantic import ValidationError

    from ballast.simulate.config import SimulationConfig, assumed_mapping, load_config

    base = load_config(config) if config else SimulationConfig()
    updates: dict = {}
    if maps:
        mapping = dict(base.mapping)
        for item in maps:
            cls, sep, series = item.partition("=")
            if not sep or not cls.strip() or not series.strip():
                raise BallastError(f"--map {item!r}: write CLASS=SERIES")
            mapping[cls.strip()] = series.strip()
        updates["mapping"] = mapping
    for key, value in (
        ("history", history),
        ("paths", paths),
        ("years", years),
        ("seed", seed),
        ("model", model),
        ("bond_duration", duration),
        ("start", start),
        ("end", end),
    ):
        if value is not None:
            updates[key] = value
    if risk_free is not None:
        updates["risk_free"] = None if risk_free.lower() == "none" else risk_free
    if phase is not None:
        updates["phase"] = phase  # SimulationConfig checks it: 0..11 or "all"
    if percent:
        updates["percent"] = True
    if policies:
        updates["policies"] = policies
    try:
        cfg = SimulationConfig.model_validate(base.model_dump() | updates)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise BallastError(f"option {loc}: {first['msg']}") from None
    if policy is not None and (assumed := assumed_mapping(cfg, policy)):
        cfg = cfg.model_copy(update={"mapping": assumed})
    if cost_bp is not None:
        cfg = cfg.model_copy(update={"cost_bp": dict.fromkeys(cfg.mapping, cost_bp)})
    return cfg


def _given_mapping(config: Path) -> dict[str, str]:
    from ballast.simulate.config import load_config

    return load_config(config).mapping


def policy_table(payload: dict) -> Table:
    """Rich table: one row per policy, history figures and simulated terminal wealth."""
    first = payload["asset_classes"][0]
    sim = payload["simulated"]
    t = Table(
        title=f"{payload['ips']}: history {payload['history']['start']}.."
        f"{payload['history']['end']}"
        + (f", {sim['paths']} paths × {sim['years']} y" if sim else ""),
        caption=f"avg wt: average weight of {first}; turn/y: turnover a year",
        show_edge=False,  # 13 columns fit 120 with every header whole
    )
    names = [p["name"] for p in payload["policies"]]
    # policy names whole: they are what --policy takes
    t.add_column("policy", no_wrap=True, min_width=max(map(len, names)))
    for col in ("CAGR", "vol", "Sharpe", "max DD", "avg wt", "turn/y", "events", "cost drag"):
        t.add_column(col, justify="right")
    if sim:
        for col in ("W p5", "W p50", "W p95", "sd ln W"):
            t.add_column(col, justify="right")
    for pol in payload["policies"]:
        h = pol["history"]
        row = [
            pol["name"],
            f"{h['cagr']:.2%}",
            f"{h['volatility']:.2%}",
            f"{h['sharpe']:.2f}",
            f"{h['max_drawdown']:.1%}",
            f"{h['weights'][first]['average']:.1%}",
            f"{h['turnover']:.1%}",
            str(h["events"]),
            f"{h['cost_drag'] * 1e4:.1f}bp",
        ]
        if sim:
            s = pol["simulated"]
            tw = s["terminal_wealth"]
            row += [
                f"{tw['p5']:.2f}",
                f"{tw['p50']:.2f}",
                f"{tw['p95']:.2f}",
                f"{s['dispersion']['log_sd']:.3f}",
            ]
        t.add_row(*row)
    return t


def _span(d: dict, scale: float = 100.0, digits: int = 1, unit: str = "%") -> str:
    """``min–max`` of one figure's dispersion (``lo to hi`` when negative), or the single value
    when both round alike."""
    lo, hi = (f"{d[k] * scale:.{digits}f}" for k in ("min", "max"))
    if lo == hi:
        return lo + unit
    return f"{lo} to {hi}{unit}" if d["min"] < 0 else f"{lo}–{hi}{unit}"


def phase_table(payload: dict) -> Table:
    """Timing luck: per policy, the spread of its history figures over its calendar phases."""
    h = payload["history"]
    t = Table(
        title=f"Timing luck: history {h['start']}..{h['end']} at every calendar phase",
        caption="CAGR min / median / max over the policy's phases; other columns min–max",
        show_edge=False,
    )
    names = [p["policy"] for p in payload["phases"]]
    t.add_column("policy", no_wrap=True, min_width=max(map(len, names)))
    for col in ("phases", "CAGR min", "median", "max", "spread", "vol", "max DD", "events"):
        t.add_column(col, justify="right", no_wrap=True)
    t.add_column("turn/y", justify="right", no_wrap=True)
    for pol in payload["phases"]:
        d = pol["dispersion"]
        t.add_row(
            pol["policy"],
            str(pol["phases"]),
            *(f"{d['cagr'][k]:.2%}" for k in ("min", "median", "max")),
            f"{d['cagr']['spread'] * 1e4:.1f}bp",
            _span(d["volatility"], digits=2),
            _span(d["max_drawdown"]),
            _span(d["events"], 1.0, 0, ""),
            _span(d["turnover"]),
        )
    return t


def phase_tax_table(payload: dict) -> Table:
    """Timing luck of a taxable run: tax drag and after-liquidation CAGR over the phases."""
    t = Table(
        title="Timing luck after tax: over the calendar phases",
        caption="CAGR after: had everything been sold at the last month-end",
        show_edge=False,
    )
    for col in ("policy", "tax drag", "CAGR after min", "median", "max", "spread"):
        t.add_column(col, justify="left" if col == "policy" else "right", no_wrap=True)
    for pol in payload["phases"]:
        d = pol["dispersion"]
        t.add_row(
            pol["policy"],
            _span(d["tax_drag"], 1e4, 0, "bp"),
            *(f"{d['after_tax_cagr'][k]:.2%}" for k in ("min", "median", "max")),
            f"{d['after_tax_cagr']['spread'] * 1e4:.1f}bp",
        )
    return t


def tax_table(payload: dict) -> Table:
    """Taxable runs: the tax paid along the way, and the extra tax of liquidating at the end."""
    t = Table(
        title="Tax (estimate) on the history",
        caption="liquidation: the extra tax had everything been sold at the last month-end, "
        "as a share of the final value",
        show_edge=False,
    )
    for col in ("policy", "tax drag", "CAGR", "liquidation", "CAGR after"):
        t.add_column(col, justify="left" if col == "policy" else "right", no_wrap=True)
    for pol in payload["policies"]:
        h = pol["history"]
        t.add_row(
            pol["name"],
            f"{h['tax_drag'] * 1e4:.1f}bp",
            f"{h['cagr']:.2%}",
            f"{h['liquidation_tax'] / h['terminal_wealth']:.1%}",
            f"{h['after_tax_cagr']:.2%}",
        )
    return t


def vanguard_table(rows: list[dict], title: str) -> Table:
    """Vanguard-style grid beside Vanguard 2010's published 1926–2009 figures."""
    t = Table(title=title)
    for col in (
        "monitoring",
        "threshold",
        "equity avg",
        "turnover/y",
        "events",
        "return",
        "vol",
        "Vanguard: equity",
        "turnover",
        "events",
        "return",
        "vol",
    ):
        t.add_column(col, justify="left" if col == "monitoring" else "right")
    for r in rows:
        v = r["vanguard"]
        pub = (
            ["—"] * 5
            if v is None
            else [
                f"{v['equity_weight']:.1%}",
                f"{v['turnover']:.1%}",
                f"{v['events']:,}",
                f"{v['return']:.1%}",
                f"{v['volatility']:.1%}",
            ]
        )
        thr = "none" if r["threshold_pct"] is None else f"{r['threshold_pct']}%"
        t.add_row(
            r["monitoring"],
            thr,
            f"{r['equity_weight']:.1%}",
            f"{r['turnover']:.1%}",
            f"{r['events']:,}",
            f"{r['cagr']:.2%}",
            f"{r['volatility']:.2%}",
            *pub,
        )
    return t


def register(app: typer.Typer) -> None:
    """Add the ``simulate`` command to the main app."""

    @app.command("simulate")
    def simulate_cmd(
        ips: Path = typer.Option(..., "--ips", help="The IPS YAML whose policy is simulated."),
        config: Path | None = typer.Option(None, "--config", help="Simulation config YAML."),
        maps: list[str] = typer.Option([], "--map", help="CLASS=SERIES (repeatable)."),
        history: str | None = typer.Option(None, "--history", help="'bundled' or a CSV path."),
        percent: bool = typer.Option(False, "--percent", help="The CSV's returns are in %."),
        paths: int | None = typer.Option(None, "--paths", help="Simulated paths (0: none)."),
        years: int | None = typer.Option(None, "--years", help="Years per simulated path."),
        seed: int | None = typer.Option(None, "--seed", help="Random seed."),
        model: str | None = typer.Option(None, "--model", help="bootstrap or parametric."),
        policies: list[str] = typer.Option([], "--policy", help="Policy spec (repeatable)."),
        duration: float | None = typer.Option(None, "--duration", help="Bond leg duration."),
        start: str | None = typer.Option(None, "--start", help="History from YYYY-MM."),
        end: str | None = typer.Option(None, "--end", help="History to YYYY-MM."),
        cost_bp: float | None = typer.Option(None, "--cost-bp", help="Cost bp, every class."),
        risk_free: str | None = typer.Option(
            None, "--risk-free", help="Series for Sharpe ratios ('none': zero)."
        ),
        phase: str | None = typer.Option(
            None, "--phase", help="Calendar phase 0..11 (0: Mar/Jun/Sep/Dec), or 'all'."
        ),
        out: Path = typer.Option(Path("simulation"), "--out", help="Output folder."),
        vanguard: bool = typer.Option(False, "--vanguard", help="Print the Vanguard grid."),
    ) -> None:
        """Simulate the IPS's rebalancing policies on history and simulated futures."""
        from ballast.portfolio.policy import load_policy
        from ballast.simulate import run
        from ballast.simulate.report import write_outputs

        console = Console()
        try:
            began = time.perf_counter()
            given = {} if config is None else _given_mapping(config)
            cfg = build_config(
                config,
                maps,
                history,
                percent,
                paths,
                years,
                seed,
                model,
                policies,
                duration,
                start,
                end,
                cost_bp,
                risk_free,
                policy=None if given or maps else load_policy(ips),
                phase=phase,
            )
            inputs = run.prepare(ips, cfg)
            hist = run.run_history(inputs)
            sims = run.run_paths(inputs)
            grid = run.run_vanguard(inputs) if vanguard else None
            phased = run.run_phases(inputs)
            payload = run.assemble(inputs, hist, sims, grid, phased)
            labels = [inputs.history.label(t) for t in range(len(inputs.history.months))]
            written = write_outputs(out, payload, hist, labels)
            elapsed = time.perf_counter() - began
        except BallastError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1 if isinstance(exc, PolicyError) else 2) from None
        if not given and not maps:
            shown = ", ".join(f"{c}={s}" for c, s in cfg.mapping.items())
            console.print(
                f"mapped by class name: {shown} (bundled history; --map CLASS=SERIES to choose)",
                highlight=False,
            )
        console.print(policy_table(payload))
        if payload["taxable"]:
            console.print(tax_table(payload))
        if payload["phases"]:
            console.print(phase_table(payload))
            if payload["taxable"]:
                console.print(phase_tax_table(payload))
        if grid:
            h = payload["history"]
            console.print(
                vanguard_table(
                    grid,
                    f"Vanguard-style grid, {h['start']}..{h['end']}, "
                    "no costs (Vanguard: 1926–2009)",
                )
            )
        console.print(
            f"wrote {', '.join(str(p) for p in written)} in {elapsed:.2f} s", highlight=False
        )
