"""Reading a backtest run folder and plotting it: shared by `report.py` (PNG files) and the
notebook (inline figures). Plot functions take DataFrames and return matplotlib Figures; they
never save or show, so the caller decides where a figure goes.

A run folder (see report.write_report) holds fills.csv (one row per fill, fill_dt columns plus
`time` and `kind_name`), equity.csv (hourly samples, engine.EQ_* columns plus `time`),
stats.json, meta.json, live_config.json and backtest_config.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless by default; a notebook may switch backends before plotting
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from passivbot.records import (  # noqa: E402
    KIND_FUNDING, KIND_NAMES, KIND_STOP_CLOSE, KIND_UNSTUCK_CLOSE, LONG, SHORT,
)

EQUITY_COLUMNS = ("timestamp", "balance", "equity", "price", "psize_long", "pprice_long",
                  "psize_short", "pprice_short", "liq_price")
SIDE_NAMES = {LONG: "long", SHORT: "short"}
SIDE_COLORS = {LONG: "tab:green", SHORT: "tab:red"}


def fills_frame(fills: np.ndarray) -> pd.DataFrame:
    """fill_dt records -> DataFrame with a UTC `time` and a readable `kind_name`."""
    df = pd.DataFrame({name: fills[name] for name in fills.dtype.names})
    df["time"] = pd.to_datetime(df["timestamp"], unit="ms", utc=True)
    df["kind_name"] = [KIND_NAMES[int(k)] for k in df["kind"]] if len(df) else []
    return df


def equity_frame(equity: np.ndarray) -> pd.DataFrame:
    """Equity samples (h, EQ_COLS) -> DataFrame (EQUITY_COLUMNS + `time`)."""
    df = pd.DataFrame(np.asarray(equity).reshape(-1, len(EQUITY_COLUMNS)), columns=EQUITY_COLUMNS)
    df["time"] = pd.to_datetime(df["timestamp"], unit="ms", utc=True)
    return df


@dataclass
class Run:
    """One run folder loaded for analysis."""

    path: Path
    fills: pd.DataFrame
    equity: pd.DataFrame
    stats: dict
    meta: dict
    live_config: dict
    backtest_config: dict


def load_run(path: str | Path) -> Run:
    """Load a run folder written by report.write_report."""
    p = Path(path)
    fills = pd.read_csv(p / "fills.csv")
    fills["time"] = pd.to_datetime(fills["timestamp"], unit="ms", utc=True)
    equity = pd.read_csv(p / "equity.csv")
    equity["time"] = pd.to_datetime(equity["timestamp"], unit="ms", utc=True)
    read = lambda name: json.loads((p / name).read_text())  # noqa: E731
    return Run(p, fills, equity, read("stats.json"), read("meta.json"), read("live_config.json"),
               read("backtest_config.json"))


def _title(ax, text: str, synthetic: bool) -> None:
    ax.set_title(text + ("  [SYNTHETIC DATA]" if synthetic else ""))


def plot_price_fills(equity: pd.DataFrame, fills: pd.DataFrame, synthetic: bool = False) -> plt.Figure:
    """Hourly price with every fill: entries as triangles (up = buy), closes as circles,
    liquidations as crosses, unstuck closes as squares, equity-stop closes as stars; long
    green, short red."""
    fig, ax = plt.subplots(figsize=(14, 6))
    ax.plot(equity["time"], equity["price"], color="0.5", lw=0.8, label="price (hourly close)")
    for side, color in SIDE_COLORS.items():
        f = fills[fills["side"] == side]
        for kinds, marker, label in (((0, 1), "^" if side == LONG else "v", "entries"),
                                     ((2,), "o", "closes"), ((3,), "x", "liquidation"),
                                     ((KIND_UNSTUCK_CLOSE,), "s", "unstuck closes"),
                                     ((KIND_STOP_CLOSE,), "*", "equity stop closes")):
            g = f[f["kind"].isin(kinds)]
            if len(g):
                ax.scatter(g["time"], g["price"], s=12, marker=marker, color=color,
                           label=f"{SIDE_NAMES[side]} {label}", zorder=3)
    ax.set_ylabel("price")
    ax.legend(loc="best", fontsize=8)
    _title(ax, "Price and fills", synthetic)
    fig.autofmt_xdate()
    return fig


def plot_balance_equity(equity: pd.DataFrame, synthetic: bool = False) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(14, 5))
    ax.plot(equity["time"], equity["balance"], label="balance", color="tab:blue")
    ax.plot(equity["time"], equity["equity"], label="equity", color="tab:orange", lw=0.8)
    ax.set_ylabel("quote")
    ax.legend(loc="best")
    _title(ax, "Balance and equity", synthetic)
    fig.autofmt_xdate()
    return fig


def plot_position_sizes(equity: pd.DataFrame, synthetic: bool = False) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(14, 5))
    ax.plot(equity["time"], equity["psize_long"], label="long", color=SIDE_COLORS[LONG])
    ax.plot(equity["time"], -equity["psize_short"], label="short (negative)", color=SIDE_COLORS[SHORT])
    ax.axhline(0.0, color="0.6", lw=0.5)
    ax.set_ylabel("position size (base)")
    ax.legend(loc="best")
    _title(ax, "Position sizes", synthetic)
    fig.autofmt_xdate()
    return fig


def wallet_exposure(equity: pd.DataFrame) -> pd.DataFrame:
    """Position cost / balance per side at each sample."""
    bal = equity["balance"].where(equity["balance"] > 0)
    return pd.DataFrame({
        "time": equity["time"],
        "long": equity["psize_long"] * equity["pprice_long"] / bal,
        "short": equity["psize_short"] * equity["pprice_short"] / bal,
    })


def plot_wallet_exposure(equity: pd.DataFrame, limits: tuple[float, float] | None = None,
                         synthetic: bool = False) -> plt.Figure:
    """Wallet exposure per side, with the configured limits as dashed lines when given."""
    we = wallet_exposure(equity)
    fig, ax = plt.subplots(figsize=(14, 5))
    for side, name in ((LONG, "long"), (SHORT, "short")):
        ax.plot(we["time"], we[name], label=name, color=SIDE_COLORS[side])
    if limits is not None:
        for side, lim in zip((LONG, SHORT), limits):
            ax.axhline(lim, color=SIDE_COLORS[side], ls="--", lw=0.8)
    ax.set_ylabel("wallet exposure")
    ax.legend(loc="best")
    _title(ax, "Wallet exposure", synthetic)
    fig.autofmt_xdate()
    return fig


def funding_flows(fills: pd.DataFrame) -> pd.DataFrame:
    """Funding rows (kind funding: pnl = the cash flow, negative = paid) with the running sums
    of what was paid and received (both >= 0) and their net, over both sides."""
    f = fills[fills["kind"] == KIND_FUNDING].sort_values("time", kind="stable")
    return pd.DataFrame({
        "time": f["time"], "side": f["side"].map(SIDE_NAMES), "cash_flow": f["pnl"],
        "paid": (-f["pnl"]).clip(lower=0).cumsum(), "received": f["pnl"].clip(lower=0).cumsum(),
        "net": f["pnl"].cumsum(),
    }).reset_index(drop=True)


def plot_funding(fills: pd.DataFrame, synthetic: bool = False) -> plt.Figure:
    """Cumulative funding paid and received (and the net) over the run: funding is a cost of
    holding a position that the gain already includes, shown apart here."""
    fl = funding_flows(fills)
    fig, ax = plt.subplots(figsize=(14, 4))
    if len(fl):
        ax.step(fl["time"], fl["received"], where="post", color="tab:green", label="received")
        ax.step(fl["time"], -fl["paid"], where="post", color="tab:red", label="paid (negative)")
        ax.step(fl["time"], fl["net"], where="post", color="k", lw=0.8, label="net")
        ax.legend(loc="best")
    else:
        ax.text(0.5, 0.5, "no funding events in this run", ha="center", va="center",
                transform=ax.transAxes)
    ax.axhline(0.0, color="0.6", lw=0.5)
    ax.set_ylabel("quote (cumulative)")
    _title(ax, "Funding", synthetic)
    fig.autofmt_xdate()
    return fig


def bounded_loss_fills(fills: pd.DataFrame) -> pd.DataFrame:
    """The fills of the bounded-loss rules (kinds unstuck_close and stop_close) with their
    realized result after fee (pnl - fee): what auto-unstuck and the equity stop cost."""
    f = fills[fills["kind"].isin((KIND_UNSTUCK_CLOSE, KIND_STOP_CLOSE))]
    out = f[["time", "kind_name", "qty", "price", "pnl", "fee", "psize", "balance"]].copy()
    out.insert(1, "side", f["side"].map(SIDE_NAMES))
    out["pnl_after_fee"] = f["pnl"] - f["fee"]
    return out.reset_index(drop=True)


def all_figures(run: Run) -> dict[str, plt.Figure]:
    """Every standard figure of a run, by file stem."""
    syn = bool(run.meta.get("synthetic", False))
    lc = run.live_config
    limits = (lc["long"]["wallet_exposure_limit"], lc["short"]["wallet_exposure_limit"])
    return {
        "price_fills": plot_price_fills(run.equity, run.fills, syn),
        "balance_equity": plot_balance_equity(run.equity, syn),
        "position_sizes": plot_position_sizes(run.equity, syn),
        "wallet_exposure": plot_wallet_exposure(run.equity, limits, syn),
    }
