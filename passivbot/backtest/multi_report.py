"""Writing a multi-symbol backtest to disk and summarizing it on the console in a trader's words.

A run folder: backtests/{exchange}/MULTI/{YYYYmmddTHHMMSS}_{label}/ with
  live_config.json      the multi-symbol config backtested (config.multi.multi_config_to_dict)
  backtest_config.json  the backtest config (its `symbol` is not used: the live config's are)
  stats.json            {"account": compute_stats keys, "symbols": {SYMBOL: multi.symbol_stats}}
  meta.json             exchange, symbols, each symbol's candle range, created time, counts
  fills.csv             every fill and funding row of every symbol: report.FILL_CSV_COLUMNS with
                        a `symbol` column after `time`
  equity.csv            the account's hourly samples: timestamp, time, balance, equity
  positions.csv         each symbol's hourly samples: timestamp, time, symbol, price,
                        psize_long, pprice_long, psize_short, pprice_short
  plots/*.png           account balance & equity, each symbol's position cost per side, the sum
                        of the symbols' wallet exposures per side against the shared limit
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from passivbot.backtest.account import S_FUNDING_EVENTS, S_WARMUP
from passivbot.backtest.analysis import fills_frame, plt
from passivbot.backtest.multi import MultiResult
from passivbot.backtest.multi_nb import (
    AE_BALANCE, AE_EQUITY, AE_TS, SE_PPRICE_LONG, SE_PPRICE_SHORT, SE_PRICE, SE_PSIZE_LONG,
    SE_PSIZE_SHORT,
)
from passivbot.backtest.multi_runner import MultiBacktest
from passivbot.backtest.report import (
    FILL_CSV_COLUMNS, config_label, new_run_dir, write_json_files,
)
from passivbot.config import backtest_config_to_dict
from passivbot.config.multi import multi_config_to_dict

POSITION_COLUMNS = ("price", "psize_long", "pprice_long", "psize_short", "pprice_short")
_SE = (SE_PRICE, SE_PSIZE_LONG, SE_PPRICE_LONG, SE_PSIZE_SHORT, SE_PPRICE_SHORT)


def _utc(ms: float, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime(fmt)


def multi_fills_frame(res: MultiResult) -> pd.DataFrame:
    """Every fill row with its `symbol` (fills.csv's rows, time as a UTC string)."""
    df = fills_frame(res.fills)
    df["time"] = df["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ") if len(df) else []
    df["symbol"] = [res.symbols[int(k)] for k in res.fill_symbol]
    cols = list(FILL_CSV_COLUMNS)
    cols.insert(cols.index("time") + 1, "symbol")
    return df.loc[:, cols]


def account_frame(res: MultiResult) -> pd.DataFrame:
    e = res.equity
    df = pd.DataFrame({"timestamp": e[:, AE_TS], "balance": e[:, AE_BALANCE],
                       "equity": e[:, AE_EQUITY]})
    df["time"] = pd.to_datetime(df["timestamp"], unit="ms", utc=True)
    return df


def positions_frame(res: MultiResult) -> pd.DataFrame:
    """Long format: one row per hourly sample and symbol."""
    h, s = res.symbol_equity.shape[:2]
    df = pd.DataFrame({"timestamp": np.repeat(res.equity[:, AE_TS], s),
                       "symbol": np.tile(np.array(res.symbols, dtype=object), h)})
    for name, col in zip(POSITION_COLUMNS, _SE):
        df[name] = res.symbol_equity[:, :, col].reshape(-1)
    df["time"] = pd.to_datetime(df["timestamp"], unit="ms", utc=True)
    return df


def plot_account(acc: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(11, 4))
    ax.plot(acc["time"], acc["balance"], label="balance")
    ax.plot(acc["time"], acc["equity"], label="equity", alpha=0.8)
    ax.set_title("account: wallet balance and equity (every position marked at its close)")
    ax.set_ylabel("quote")
    ax.legend()
    fig.autofmt_xdate()
    return fig


def plot_positions(pos: pd.DataFrame) -> plt.Figure:
    """Each symbol's position cost (size x price) per side, short drawn below zero."""
    fig, ax = plt.subplots(figsize=(11, 5))
    for sym, g in pos.groupby("symbol", sort=False):
        line, = ax.plot(g["time"], g["psize_long"] * g["pprice_long"], label=sym)
        ax.plot(g["time"], -g["psize_short"] * g["pprice_short"], color=line.get_color())
    ax.axhline(0.0, color="black", lw=0.5)
    ax.set_title("position cost per symbol (long above 0, short below)")
    ax.set_ylabel("quote")
    ax.legend(ncol=4, fontsize=8)
    fig.autofmt_xdate()
    return fig


def plot_exposure(pos: pd.DataFrame, acc: pd.DataFrame, limits: tuple[float, float]) -> plt.Figure:
    """The sum of the symbols' wallet exposures per side, hourly, against the shared limits."""
    fig, ax = plt.subplots(figsize=(11, 4))
    cost = pos.assign(long=pos["psize_long"] * pos["pprice_long"],
                      short=pos["psize_short"] * pos["pprice_short"])
    tot = cost.groupby("timestamp", sort=True)[["long", "short"]].sum()
    bal = acc.drop_duplicates("timestamp").set_index("timestamp")["balance"].reindex(tot.index)
    t = pd.to_datetime(tot.index, unit="ms", utc=True)
    for side, color, limit in (("long", "tab:green", limits[0]), ("short", "tab:red", limits[1])):
        ax.plot(t, tot[side] / bal.where(bal > 0), color=color, label=f"{side} (sum)")
        ax.axhline(limit, color=color, ls="--", lw=0.8, label=f"{side} shared limit {limit:g}")
    ax.set_title("wallet exposure of all symbols together, per side (hourly samples)")
    ax.legend(fontsize=8)
    fig.autofmt_xdate()
    return fig


def make_run_dir(out: MultiBacktest, root: str | Path = "backtests", label: str | None = None,
                 now: dt.datetime | None = None) -> Path:
    """The run folder backtests/{exchange}/MULTI/{time}_{label}, created."""
    return new_run_dir(Path(root) / out.backtest_config.exchange / "MULTI",
                       label or config_label(out.config.source, "multi"), now)


def meta_of(out: MultiBacktest) -> dict:
    res = out.result
    ts = res.axis_ts
    per = {sym: {"first_candle": _utc(ts[res.first[k]], "%Y-%m-%dT%H:%M:%SZ"),
                 "last_candle": _utc(ts[res.last[k]], "%Y-%m-%dT%H:%M:%SZ"),
                 "n_candles": int(res.last[k] - res.first[k] + 1),
                 "funding_events": int(res.symbol_summary[k, S_FUNDING_EVENTS]),
                 "warmup_candles": int(res.symbol_summary[k, S_WARMUP])}
           for k, sym in enumerate(res.symbols)}
    return {"exchange": out.backtest_config.exchange, "symbols": list(res.symbols),
            "n_positions": out.config.n_positions, "minutes": int(len(ts)),
            "n_fill_rows": int(len(res.fills)), "per_symbol": per,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def write_multi_report(out: MultiBacktest, root: str | Path = "backtests", *,
                       label: str | None = None, plots: bool = True) -> Path:
    """Write the run folder of a multi-symbol backtest and return its path."""
    path = make_run_dir(out, root, label)
    write_json_files(path, {"live_config.json": multi_config_to_dict(out.config),
                            "backtest_config.json": backtest_config_to_dict(out.backtest_config),
                            "stats.json": out.stats, "meta.json": meta_of(out)})
    multi_fills_frame(out.result).to_csv(path / "fills.csv", index=False)
    acc, pos = account_frame(out.result), positions_frame(out.result)
    acc.assign(time=acc["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path / "equity.csv",
                                                                           index=False)
    pos.assign(time=pos["time"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).loc[
        :, ["timestamp", "time", "symbol", *POSITION_COLUMNS]].to_csv(path / "positions.csv",
                                                                      index=False)
    if plots:
        (path / "plots").mkdir()
        figs = {"balance_equity": plot_account(acc), "positions": plot_positions(pos),
                "wallet_exposure": plot_exposure(pos, acc, out.config.total_wallet_exposure_limit)}
        for name, fig in figs.items():
            fig.savefig(path / "plots" / f"{name}.png", dpi=100, bbox_inches="tight")
            plt.close(fig)
    return path


def _stuck_where(out: MultiBacktest) -> str:
    """Which symbol and side the account's longest stuck span belongs to."""
    best, where = -1.0, ""
    for sym, s in out.stats["symbols"].items():
        for side in ("long", "short"):
            if s[f"max_hours_stuck_{side}"] > best:
                best, where = s[f"max_hours_stuck_{side}"], f"{sym} {side}"
    return where


def summary_table(out: MultiBacktest) -> list[str]:
    """The console summary: the run, the account's figures, then one row per symbol."""
    acc, cfg, bt, res = out.stats["account"], out.config, out.backtest_config, out.result
    lo, sh = cfg.total_wallet_exposure_limit
    sel = (f"at most {cfg.n_positions} positions per side, chosen every hour"
           if cfg.selecting else "every symbol trades")
    lines = [
        f"backtest {bt.exchange}: {len(cfg.symbols)} symbols on one wallet, {sel}  "
        f"{_utc(res.axis_ts[0])} .. {_utc(res.axis_ts[-1])} UTC ({len(res.axis_ts):,} minutes)",
        f"live config: {cfg.source or '(in memory)'}   starting balance "
        f"{bt.starting_balance:,.2f}   fees maker {bt.maker_fee:g} taker {bt.taker_fee:g}   "
        f"shared exposure limit long {lo:g} short {sh:g}",
    ]
    rows = (
        ("final balance", f"{acc['final_balance']:,.2f}"),
        ("final equity", f"{acc['final_equity']:,.2f} (open positions at the last close)"),
        ("gain", f"{acc['gain']:+.2%} (on equity)"),
        ("average daily gain", f"{acc['average_daily_gain']:+.4%}"),
        ("max drawdown", f"{acc['max_drawdown']:.2%}"),
        ("closest liquidation", f"{acc['closest_liquidation_distance']:.2%}"),
        ("max hours stuck", f"{acc['max_hours_stuck']:.1f} ({_stuck_where(out)})"),
        ("fees paid", f"{acc['fees_paid']:,.2f}"),
        ("funding paid / received", f"{acc['funding_paid']:,.2f} / "
                                    f"{acc['funding_received']:,.2f}"),
        ("fills", f"{acc['n_fills']:.0f}"),
        ("entries refused (margin)", f"{acc['n_margin_refused']:.0f}"),
        ("max exposure, all symbols", f"long {acc['max_wallet_exposure_long']:.3f} of {lo:g}, "
                                      f"short {acc['max_wallet_exposure_short']:.3f} of {sh:g}"),
    )
    width = max(len(r[0]) for r in rows)
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    lines.append(f"  {'symbol':<10} {'fills':>6} {'pnl':>10} {'fees':>8} {'funding':>8} "
                 f"{'net':>10} {'stuck h L/S':>12} {'max exp L/S':>12}")
    for sym, s in out.stats["symbols"].items():
        net = s["realized_pnl"] - s["fees_paid"] + s["funding_net"]
        stuck = f"{s['max_hours_stuck_long']:.0f}/{s['max_hours_stuck_short']:.0f}"
        exp = f"{s['max_wallet_exposure_long']:.2f}/{s['max_wallet_exposure_short']:.2f}"
        lines.append(f"  {sym:<10} {s['n_fills']:>6.0f} {s['realized_pnl']:>10.2f} "
                     f"{s['fees_paid']:>8.2f} {s['funding_net']:>8.2f} {net:>10.2f} "
                     f"{stuck:>12} {exp:>12}")
    first = cfg.configs[cfg.symbols[0]]
    if first.equity_stop_drawdown > 0 or any(
            c.long.unstuck_threshold > 0 or c.short.unstuck_threshold > 0
            for c in cfg.configs.values()):
        lines.append(f"  bounded loss: {acc['n_unstuck_closes']:.0f} unstuck closes (loss "
                     f"{acc['unstuck_loss']:,.2f}), equity stop (account equity) fired "
                     f"{acc['n_equity_stops']:.0f} times ({acc['n_stop_closes']:.0f} market "
                     f"closes)")
    if acc["liquidated"]:
        lines.append(f"!! LIQUIDATED: the account ended at the liquidation; margin lost "
                     f"{acc['liquidation_margin_lost']:,.2f}, balance 0")
    return lines


def run_and_report(out: MultiBacktest, root: str | Path = "backtests", *,
                   plots: bool = True) -> Path:
    """Write the folder, print the summary and the folder's path (the CLI's multi path)."""
    path = write_multi_report(out, root, plots=plots)
    print("\n".join(summary_table(out)))
    print(f"results: {path}")
    return path
