"""Writing a backtest run to disk and summarizing it on the console.

A run folder: backtests/{exchange}/{SYMBOL}/{YYYYmmddTHHMMSS}_{label}/ with
  live_config.json      the config backtested (a valid live config: start_bot.py can use it)
  backtest_config.json  the backtest config resolved with defaults and CLI overrides
  stats.json            compute_stats (floats only)
  meta.json             data source, synthetic flag, candle range, created time, counts
  fills.csv, equity.csv the engine's records (see analysis.py for the columns); fills.csv
                        holds funding payments too, kind_name "funding" (pnl = the payment,
                        negative when paid, price = the mark price)
  plots/*.png           price with fills, balance & equity, position sizes, wallet exposure
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from passivbot.backtest.analysis import all_figures, equity_frame, fills_frame, load_run
from passivbot.backtest.runner import BacktestResult
from passivbot.config import backtest_config_to_dict, live_config_to_dict

FILL_CSV_COLUMNS = ("minute", "timestamp", "time", "side", "kind", "kind_name", "qty", "price",
                    "fee", "pnl", "psize", "pprice", "balance")


def new_run_dir(base: Path, label: str, now: dt.datetime | None = None) -> Path:
    """Create and return base/{YYYYmmddTHHMMSS}_{label} (the label made safe for a folder name).
    A second run in the same second gets `-1`, `-2`, ...: the folder is created here, so two
    runs started together never write into one."""
    now = now or dt.datetime.now(dt.timezone.utc)
    name = f"{now:%Y%m%dT%H%M%S}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', label)}"
    base.mkdir(parents=True, exist_ok=True)
    for k in range(1000):
        path = base / (name if k == 0 else f"{name}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{base / name}: 1000 runs with this label in one second")


def write_json_files(folder: Path, files: dict[str, Any]) -> None:
    """Each {file name: object} of a run folder as indented JSON."""
    for name, obj in files.items():
        (folder / name).write_text(json.dumps(obj, indent=2) + "\n")


def config_label(source: str | None, default: str) -> str:
    """A run's default label: the config file's name without its extension."""
    return Path(source or default).stem or default


def make_run_dir(result: BacktestResult, root: str | Path = "backtests",
                 label: str | None = None, now: dt.datetime | None = None) -> Path:
    """The run folder backtests/{exchange}/{SYMBOL}/{time}_{label}, created."""
    info = result.candles_info
    return new_run_dir(Path(root) / info["exchange"] / info["symbol"],
                       label or config_label(result.live_config.source, "config"), now)


def meta_of(result: BacktestResult) -> dict:
    info = dict(result.candles_info)
    fmt = lambda ms: dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat()  # noqa: E731
    info["first_candle"] = fmt(info.get("first_ts", 0))
    info["last_candle"] = fmt(info.get("last_ts", 0))
    info["created"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    info["note"] = ("SYNTHETIC candles: not market data; figures show behaviour, not expected "
                    "returns") if info.get("synthetic") else "market data"
    return info


def write_report(result: BacktestResult, root: str | Path = "backtests", *, label: str | None = None,
                 plots: bool = True) -> Path:
    """Write the run folder for `result` and return its path."""
    path = make_run_dir(result, root, label)
    write_json_files(path, {"live_config.json": live_config_to_dict(result.live_config),
                            "backtest_config.json": backtest_config_to_dict(result.backtest_config),
                            "stats.json": result.stats, "meta.json": meta_of(result)})
    fdf = fills_frame(result.fills)
    fdf["time"] = fdf["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ") if len(fdf) else []
    fdf.loc[:, list(FILL_CSV_COLUMNS)].to_csv(path / "fills.csv", index=False)
    edf = equity_frame(result.equity).drop(columns=["time"])
    edf.to_csv(path / "equity.csv", index=False)
    if plots:
        write_plots(path)
    return path


def write_plots(path: str | Path) -> list[Path]:
    """Render the standard figures of a run folder to plots/*.png."""
    run = load_run(path)
    out_dir = Path(path) / "plots"
    out_dir.mkdir(exist_ok=True)
    written = []
    for name, fig in all_figures(run).items():
        out = out_dir / f"{name}.png"
        fig.savefig(out, dpi=100, bbox_inches="tight")
        plt.close(fig)
        written.append(out)
    return written


SUMMARY_ROWS = (
    ("final balance", "final_balance", "{:,.2f}"),
    ("final equity", "final_equity", "{:,.2f}"),
    ("gain", "gain", "{:+.2%}"),
    ("days", "days", "{:.1f}"),
    ("average daily gain", "average_daily_gain", "{:+.4%}"),
    ("median daily gain", "median_daily_gain", "{:+.4%}"),
    ("max drawdown", "max_drawdown", "{:.2%}"),
    ("sharpe (annualised)", "sharpe", "{:.3f}"),
    ("sortino (annualised)", "sortino", "{:.3f}"),
    ("closest liquidation", "closest_liquidation_distance", "{:.2%}"),
    ("liquidated", "liquidated", "{:.0f}"),
    ("max hours stuck long", "max_hours_stuck_long", "{:.1f}"),
    ("max hours stuck short", "max_hours_stuck_short", "{:.1f}"),
    ("fills (entries/closes)", None, None),
    ("fills per day", "fills_per_day", "{:.2f}"),
    ("fees paid", "fees_paid", "{:,.2f}"),
    ("funding paid", "funding_paid", "{:,.2f}"),
    ("funding received", "funding_received", "{:,.2f}"),
    ("entries refused (margin)", "n_margin_refused", "{:.0f}"),
    ("volume", "volume", "{:,.0f}"),
    ("max exposure long", "max_wallet_exposure_long", "{:.3f}"),
    ("max exposure short", "max_wallet_exposure_short", "{:.3f}"),
)


def summary_table(result: BacktestResult) -> str:
    """The console summary: what was run on what data, then the key stats."""
    s, info = result.stats, result.candles_info
    bt = result.backtest_config
    fmt = lambda ms: dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    lines = [
        f"backtest {info['exchange']} {info['symbol']}  {fmt(info['first_ts'])} .. "
        f"{fmt(info['last_ts'])} UTC  ({info['n_candles']:,} candles, data: {info['data_source']})",
        f"live config: {result.live_config.source or '(in memory)'}   starting balance "
        f"{bt.starting_balance:,.2f}   fees maker {bt.maker_fee:g} taker {bt.taker_fee:g}",
    ]
    if info.get("synthetic"):
        lines.append("!! SYNTHETIC CANDLES: not market data; these numbers are not expected returns")
    width = max(len(r[0]) for r in SUMMARY_ROWS)
    for name, key, f in SUMMARY_ROWS:
        if key is None:
            value = f"{s['n_fills']:.0f} ({s['n_entries']:.0f}/{s['n_closes']:.0f})"
        else:
            value = f.format(s[key])
        lines.append(f"  {name:<{width}}  {value:>16}")
    if info.get("funding_source", "none") == "none":
        lines.append("!! funding NOT modelled (no funding data for this market and range)")
    else:
        lines.append(f"  funding from {info['funding_source']}: {info.get('funding_events', 0)} events")
    if info.get("warmup_candles"):
        lines.append(f"  EMA warm-up: the first {info['warmup_candles']:,} candles (no orders)")
    cfg = result.live_config
    if (cfg.equity_stop_drawdown > 0 or cfg.long.unstuck_threshold > 0
            or cfg.short.unstuck_threshold > 0):
        lines.append(f"  bounded loss: {s['n_unstuck_closes']:.0f} unstuck closes (loss "
                     f"{s['unstuck_loss']:,.2f}), equity stop fired {s['n_equity_stops']:.0f} "
                     f"times ({s['n_stop_closes']:.0f} market closes)")
    if s["liquidated"]:
        lines.append(f"!! LIQUIDATED: the run ended at the liquidation; margin lost "
                     f"{s['liquidation_margin_lost']:,.2f}, balance 0")
    return "\n".join(lines)
