"""What a trader asks of a grid after "did it make money": how long positions were held, how big
the fills were, how deep the grid doubled down, how close liquidation came; and, for an
optimization, how the score moved with the key parameters. Tables from the run's DataFrames
(analysis.load_run) and figures that return matplotlib Figures (never saved or shown here).

A position cycle is one side's position from the fill that opens it (position size 0 before)
to the fill that brings it back to 0 (a full close or a liquidation); a cycle still open at the
end of the run ends at the last equity sample and is marked `open`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from passivbot.backtest.analysis import SIDE_COLORS, SIDE_NAMES, Run, _title
from passivbot.backtest.analysis_runs import Optimization, feasible_trials, key_params
from passivbot.records import (
    KIND_CLOSE, KIND_INITIAL_ENTRY, KIND_LIQUIDATION, KIND_REENTRY, LONG, SHORT,
)

FLAT = 1e-12  # a position size at or below this is flat (sizes are base-currency magnitudes)
CYCLE_COLUMNS = ("side", "side_name", "start", "end", "hours", "n_entries", "n_reentries",
                 "n_closes", "max_psize", "max_cost", "pnl", "fees", "liquidated", "open")


def position_cycles(fills: pd.DataFrame, end_time: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per position cycle (CYCLE_COLUMNS): side, start/end times, hours held, entries
    (n_reentries = the DCA depth reached), closes, the largest size and cost (size x position
    price, quote), realized pnl and fees of the cycle, whether it ended in a liquidation, and
    whether it was still open at `end_time` (default: the last fill)."""
    rows = []
    for side in (LONG, SHORT):
        f = fills[fills["side"] == side]
        if not len(f):
            continue
        before = f["psize"].shift(1, fill_value=0.0).to_numpy()
        cycle = np.cumsum(before <= FLAT)  # a fill from a flat position opens a new cycle
        for _, g in f.groupby(cycle, sort=True):
            kinds = g["kind"].to_numpy()
            is_open = bool(g["psize"].iloc[-1] > FLAT)
            end = end_time if (is_open and end_time is not None) else g["time"].iloc[-1]
            rows.append({
                "side": side, "side_name": SIDE_NAMES[side],
                "start": g["time"].iloc[0], "end": end,
                "hours": (end - g["time"].iloc[0]).total_seconds() / 3600.0,
                "n_entries": int(np.isin(kinds, (KIND_INITIAL_ENTRY, KIND_REENTRY)).sum()),
                "n_reentries": int((kinds == KIND_REENTRY).sum()),
                "n_closes": int((kinds == KIND_CLOSE).sum()),
                "max_psize": float(g["psize"].max()),
                "max_cost": float((g["psize"] * g["pprice"]).max()),
                "pnl": float(g["pnl"].sum()), "fees": float(g["fee"].sum()),
                "liquidated": bool((kinds == KIND_LIQUIDATION).any()), "open": is_open,
            })
    df = pd.DataFrame(rows, columns=list(CYCLE_COLUMNS))
    return df.sort_values("start", kind="stable").reset_index(drop=True) if len(df) else df


def run_cycles(run: Run) -> pd.DataFrame:
    """position_cycles of a loaded Run, open cycles ending at its last equity sample."""
    end = run.equity["time"].iloc[-1] if len(run.equity) else None
    return position_cycles(run.fills, end)


def liquidation_distance(equity: pd.DataFrame) -> pd.DataFrame:
    """Distance from the hourly close to the liquidation price, as a fraction of the price
    (NaN when there is no liquidation price, i.e. no position or a fully hedged one), capped
    at 1.0 like the stat: beyond 100 % the number says nothing more. The exact minimum over
    every candle's low/high is stats.json's closest_liquidation_distance; this hourly series
    shows *when* it came close."""
    liq = equity["liq_price"].where(equity["liq_price"] > 0)
    dist = ((equity["price"] - liq).abs() / equity["price"]).clip(upper=1.0)
    return pd.DataFrame({"time": equity["time"], "distance": dist})


def _hist_by_side(ax, values: dict[int, np.ndarray], bins: int, xlabel: str) -> None:
    data = [v for v in values.values() if len(v)]
    if not data:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return
    edges = np.histogram_bin_edges(np.concatenate(data), bins=bins)
    for side, v in values.items():
        if len(v):
            ax.hist(v, bins=edges, alpha=0.6, color=SIDE_COLORS[side],
                    label=f"{SIDE_NAMES[side]} ({len(v)})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.legend(loc="best", fontsize=8)


def plot_cycle_durations(cycles: pd.DataFrame, synthetic: bool = False) -> plt.Figure:
    """Histogram of how long each position cycle was held (hours), per side."""
    fig, ax = plt.subplots(figsize=(10, 4))
    hours = {s: cycles.loc[cycles["side"] == s, "hours"].to_numpy() for s in (LONG, SHORT)}
    _hist_by_side(ax, hours, 30, "hours from first entry to full close (open cycles: to the end)")
    _title(ax, "Position durations", synthetic)
    return fig


def plot_fill_sizes(fills: pd.DataFrame, synthetic: bool = False) -> plt.Figure:
    """Histograms of fill cost (qty x price, quote): entries and closes, per side."""
    fig, axes = plt.subplots(1, 2, figsize=(14, 4))
    cost = fills["qty"] * fills["price"]
    for ax, (kinds, name) in zip(axes, (((KIND_INITIAL_ENTRY, KIND_REENTRY), "entries"),
                                        ((KIND_CLOSE, KIND_LIQUIDATION), "closes"))):
        m = fills["kind"].isin(kinds)
        _hist_by_side(ax, {s: cost[m & (fills["side"] == s)].to_numpy() for s in (LONG, SHORT)},
                      30, "fill cost (quote)")
        _title(ax, f"Fill sizes: {name}", synthetic)
    return fig


def plot_dca_depth(cycles: pd.DataFrame, synthetic: bool = False) -> plt.Figure:
    """How many re-entries each position cycle needed (0 = closed after the initial entry):
    the deeper the bars reach, the more the grid doubled down."""
    fig, ax = plt.subplots(figsize=(10, 4))
    depth_max = int(cycles["n_reentries"].max()) if len(cycles) else 0
    x = np.arange(depth_max + 1)
    for offset, side in ((-0.2, LONG), (0.2, SHORT)):
        d = cycles.loc[cycles["side"] == side, "n_reentries"].to_numpy()
        counts = np.bincount(d, minlength=depth_max + 1) if len(d) else np.zeros(len(x))
        ax.bar(x + offset, counts, width=0.4, color=SIDE_COLORS[side],
               label=f"{SIDE_NAMES[side]} ({len(d)} cycles)")
    ax.set_xticks(x)
    ax.set_xlabel("re-entries in the cycle (DCA depth reached)")
    ax.set_ylabel("cycles")
    ax.legend(loc="best", fontsize=8)
    _title(ax, "DCA depth per position cycle", synthetic)
    return fig


def plot_liquidation_distance(equity: pd.DataFrame, closest: float | None = None,
                              synthetic: bool = False) -> plt.Figure:
    """Hourly distance to the liquidation price; `closest` (stats' exact minimum) as a dashed
    line."""
    ld = liquidation_distance(equity)
    fig, ax = plt.subplots(figsize=(14, 4))
    ax.plot(ld["time"], ld["distance"], color="tab:purple", lw=0.8, label="hourly close")
    if closest is not None:
        ax.axhline(closest, color="tab:red", ls="--", lw=0.8,
                   label=f"closest over all candles: {closest:.1%}")
    ax.set_ylabel("distance to liquidation (fraction of price)")
    ax.set_ylim(bottom=0.0)
    ax.legend(loc="best", fontsize=8)
    _title(ax, "Closest liquidation over time", synthetic)
    fig.autofmt_xdate()
    return fig


def plot_trials(opt: Optimization, params: list[str] | None = None) -> plt.Figure:
    """Score against each key parameter (default key_params), one panel each; trials that broke
    a constraint in grey (their score is below -1 and would flatten the axis, so they sit at the
    panel's bottom edge), the best trial as a star."""
    t = opt.trials
    params = params if params is not None else key_params(opt)
    n = max(1, len(params))
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    ok = feasible_trials(t) if len(t) else pd.Series(dtype=bool)
    good, bad = t[ok], t[~ok]
    floor = float(good["score"].min()) if len(good) else 0.0
    best = t.loc[t["score"].idxmax()] if len(t) else None
    for ax, k in zip(axes.flat, params):
        ax.scatter(good[k], good["score"], s=10, color="tab:blue", label="valid")
        if len(bad):
            ax.scatter(bad[k], np.full(len(bad), floor), s=8, color="0.7", marker="v",
                       label="broke a constraint")
        if best is not None:
            ax.scatter([best[k]], [best["score"]], s=120, marker="*", color="tab:orange",
                       label="best", zorder=3)
        ax.set_xlabel(k)
        ax.set_ylabel("score")
    for ax in list(axes.flat)[len(params):]:
        ax.set_visible(False)
    if not params:
        axes.flat[0].set_visible(True)
        axes.flat[0].text(0.5, 0.5, "no varying parameter", ha="center", va="center")
    axes.flat[0].legend(loc="best", fontsize=7)
    fig.suptitle(f"Optimization trials: {len(t)} ({int(ok.sum())} valid)  {opt.path.name}")
    fig.tight_layout()
    return fig


def plot_score_history(opt: Optimization) -> plt.Figure:
    """Score per trial in order and the running best: did the search still improve at the end?"""
    t = opt.trials.sort_values("number")
    ok = feasible_trials(t)
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.scatter(t.loc[ok, "number"], t.loc[ok, "score"], s=8, color="tab:blue", label="valid trial")
    ax.plot(t["number"], t["score"].cummax(), color="tab:orange", label="best so far")
    if ok.any():
        lo, hi = t.loc[ok, "score"].min(), t["score"].max()
        pad = 0.05 * (hi - lo) if hi > lo else 1e-4
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("trial")
    ax.set_ylabel("score")
    ax.legend(loc="best", fontsize=8)
    ax.set_title("Optimization progress")
    return fig


def notebook_figures(run: Run, cycles: pd.DataFrame | None = None) -> dict[str, plt.Figure]:
    """The figures beyond the CLI's four (analysis.all_figures): durations, fill sizes, DCA
    depth and closest liquidation."""
    syn = bool(run.meta.get("synthetic", False))
    cycles = run_cycles(run) if cycles is None else cycles
    return {
        "cycle_durations": plot_cycle_durations(cycles, syn),
        "fill_sizes": plot_fill_sizes(run.fills, syn),
        "dca_depth": plot_dca_depth(cycles, syn),
        "liquidation_distance": plot_liquidation_distance(
            run.equity, run.stats.get("closest_liquidation_distance"), syn),
    }
