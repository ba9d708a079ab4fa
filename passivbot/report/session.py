"""A journal (see journal.py) as a `BacktestResult`, so a live or paper session gets exactly
the backtest's stats (`backtest.stats.compute_stats`), files and plots
(`backtest.report.write_report`); and the backtest of the same period for a side-by-side.

How the session maps onto the backtest's records:
- minute 0 is the first session's start (floored to the minute); a fill's `minute` is its
  minute since then, so "hours stuck" and "fills per day" mean what they mean in a backtest;
- equity: the journal's samples taken at each hour mark (the latest sample at or before it)
  and the last one, as the engine samples every 60th candle and the last;
- summary: closest liquidation over the equity samples, max wallet exposure after each fill
  (position cost / balance), liquidated if a liquidation fill is journalled, last minute;
- funding: each journalled `funding` line adds to the backtest's funding_paid / funding_received
  (summary slots, so `funding_net` = received - paid as in a backtest) and, where its side is
  known, becomes a funding row of the fills (kind "funding", pnl = amount, as the backtest
  records one); events = distinct funding times (the backtest counts events, not positions).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from passivbot.backtest.engine import EQ_COLS, N_SUMMARY, S_CLOSEST_LIQ, S_FUNDING_EVENTS, \
    S_FUNDING_PAID, S_FUNDING_RECEIVED, S_LAST_INDEX, S_LIQUIDATED, S_MAX_WE_LONG, S_MAX_WE_SHORT
from passivbot.backtest.runner import BacktestResult
from passivbot.backtest.account import S_MAX_DRAWDOWN
from passivbot.backtest.stats import compute_stats, max_drawdown
from passivbot.config import BacktestConfig, LiveConfig, OptimizeConfig, live_config_from_dict
from passivbot.records import LONG, SHORT, fill_dt
from passivbot.report.journal import EQUITY_KEYS, KINDS

MINUTE_MS, HOUR_MS = 60_000, 3_600_000


@dataclass(frozen=True)
class SessionInfo:
    """What the backtest records cannot say: mode, restarts, maker/taker split."""

    mode: str
    n_sessions: int
    start_ms: int
    end_ms: int
    n_maker: int
    n_taker: int
    fees_maker: float
    fees_taker: float
    config_changed: bool

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _fills(rows: list[dict], t0: int, funding: list[dict] = ()) -> np.ndarray:
    """Journal fills, and the funding lines of a known side as funding rows (qty = the
    position charged, price = the mark used, pnl = amount, pprice = the side's last entry
    price), in time order (file order within a millisecond)."""
    both = sorted([(r["ts_ms"], 0, i) for i, r in enumerate(rows)]
                  + [(r["ts_ms"], 1, i) for i, r in enumerate(funding) if r["side"]])
    a = np.zeros(len(both), dtype=fill_dt)
    pprice = {"long": 0.0, "short": 0.0}
    for k, (ts, is_funding, i) in enumerate(both):
        minute, stamp = (ts - t0) // MINUTE_MS, ts // MINUTE_MS * MINUTE_MS
        if is_funding:
            r = funding[i]
            a[k] = (minute, stamp, LONG if r["side"] == "long" else SHORT,
                    KINDS.index("funding"), r["psize"], r["price"], 0.0, r["amount"],
                    r["psize"], pprice[r["side"]], r["balance"])
            continue
        r = rows[i]
        pprice[r["side"]] = r["pprice"]
        a[k] = (minute, stamp, LONG if r["side"] == "long" else SHORT, KINDS.index(r["kind"]),
                r["qty"], r["price"], r["fee"], r["pnl"], r["psize"], r["pprice"], r["balance"])
    return a


def _equity(rows: list[dict], t0: int, balance: float) -> np.ndarray:
    if not rows:
        return np.array([[t0, balance, balance, 0, 0, 0, 0, 0, 0]], dtype=np.float64)
    ts = np.array([r["ts_ms"] for r in rows], dtype=np.int64)
    full = np.array([[r[k] for k in EQUITY_KEYS] for r in rows], dtype=np.float64)
    marks = np.arange(t0, ts[-1] + 1, HOUR_MS)
    idx = np.searchsorted(ts, marks, side="right") - 1
    idx = np.unique(np.r_[np.maximum(idx, 0), len(ts) - 1])
    out = full[idx]
    assert out.shape[1] == EQ_COLS
    return out


def _summary(fills: np.ndarray, equity: np.ndarray, last_index: int,
             equity_series: np.ndarray) -> np.ndarray:
    """The engine's summary slots that a journal can fill; drawdown from every journalled
    equity line (the bot journals equity once a market minute, at the close)."""
    s = np.zeros(N_SUMMARY)
    s[S_MAX_DRAWDOWN] = max_drawdown(equity_series)
    price, liq = equity[:, 3], equity[:, 8]
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.where((liq > 0) & (price > 0), np.abs(liq / price - 1.0), 1.0)
    s[S_CLOSEST_LIQ] = float(dist.min()) if len(dist) else 1.0
    for side, col in ((LONG, S_MAX_WE_LONG), (SHORT, S_MAX_WE_SHORT)):
        f = fills[fills["side"] == side]
        we = np.where(f["balance"] > 0, f["psize"] * f["pprice"] / np.where(
            f["balance"] > 0, f["balance"], 1.0), 0.0)
        s[col] = float(we.max()) if len(we) else 0.0
    s[S_LIQUIDATED] = float(np.any(fills["kind"] == KINDS.index("liquidation")))
    s[S_LAST_INDEX] = float(last_index)
    return s


def _funding_summary(s: np.ndarray, funding: list[dict]) -> None:
    """Paid, received and events of the journal's funding lines into the summary slots."""
    amounts = np.array([float(r["amount"]) for r in funding], dtype=np.float64)
    s[S_FUNDING_PAID] = float(-amounts[amounts < 0].sum())
    s[S_FUNDING_RECEIVED] = float(amounts[amounts > 0].sum())
    s[S_FUNDING_EVENTS] = float(len({int(r["ts_ms"]) for r in funding}))


def _day(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).date()


def session_result(journal: dict[str, list[dict]], source: str = "journal"
                   ) -> tuple[BacktestResult, SessionInfo]:
    """The journal as a BacktestResult (stats computed by the backtest's own function) and the
    session facts a backtest does not have."""
    first = journal["session"][0]
    t0 = first["ts_ms"] // MINUTE_MS * MINUTE_MS
    fills_rows, eq_rows = journal["fill"], journal["equity"]
    funding = [r for r in journal.get("funding", []) if r["ts_ms"] >= t0]  # not before it
    end = max([t0] + [r["ts_ms"] for r in fills_rows] + [r["ts_ms"] for r in eq_rows]
              + [r["ts_ms"] for r in funding])
    live: LiveConfig = live_config_from_dict(first["config"], f"{source} (session config)")
    balance = float(first["balance"])
    fills = _fills(fills_rows, t0, funding)
    equity = _equity(eq_rows, t0, balance)
    last_index = (end - t0) // MINUTE_MS
    summary = _summary(fills, equity, last_index,
                       np.array([float(r["equity"]) for r in eq_rows], dtype=np.float64))
    _funding_summary(summary, funding)
    bt = BacktestConfig(
        config_version=1, exchange=first["exchange"], symbol=first["symbol"],
        data_source="journal", synthetic_seed=0, start_date=_day(t0),
        end_date=_day(end) + dt.timedelta(days=1), starting_balance=balance,
        maker_fee=float(first["maker_fee"]), taker_fee=float(first["taker_fee"]),
        starting_config_paths=(), starting_configs=(live,), optimize=OptimizeConfig(),
        source=source)
    stats = compute_stats(fills, equity, summary, np.zeros((0, 6)), balance)
    info = {"exchange": first["exchange"], "symbol": first["symbol"],
            "data_source": f"{first['mode']} session journal", "synthetic": False,
            "first_ts": int(t0), "last_ts": int(end), "n_candles": int(last_index + 1),
            # the report's "funding NOT modelled" warning: none when no funding line was read
            "funding_source": "journal" if funding else "none"}
    maker = np.array([bool(r["maker"]) for r in fills_rows], dtype=bool)
    sinfo = SessionInfo(
        mode=first["mode"], n_sessions=len(journal["session"]), start_ms=int(t0),
        end_ms=int(end), n_maker=int(maker.sum()), n_taker=int((~maker).sum()),
        fees_maker=float(sum(r["fee"] for r in fills_rows if r["maker"])),
        fees_taker=float(sum(r["fee"] for r in fills_rows if not r["maker"])),
        config_changed=any(s["config"] != first["config"] for s in journal["session"][1:]))
    return BacktestResult(fills, equity, summary, stats, live, bt, info), sinfo


COMPARE_ROWS = ("gain", "average_daily_gain", "max_drawdown", "max_hours_stuck_long",
                "max_hours_stuck_short", "closest_liquidation_distance", "n_fills", "n_entries",
                "n_closes", "fees_paid", "volume", "final_equity")


def comparison_rows(session: dict[str, float], backtest: dict[str, float]) -> list[tuple]:
    """(stat, session value, backtest value, difference) for the side-by-side."""
    return [(k, session[k], backtest[k], session[k] - backtest[k]) for k in COMPARE_ROWS]
