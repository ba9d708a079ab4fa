"""The backtest engine: one `@njit` replay of 1-minute candles through the shared calculator.

Conventions (see `passivbot.records`): candles float64 (n, 6) = timestamp ms, open, high, low,
close, volume, one row a minute (checked: a row not 60 000 ms after the previous one stops the
kernel with summary[S_GAP_INDEX] = its index, and `run_backtest` raises CandleGapError); prices
in quote, sizes in base (magnitudes), sides LONG/SHORT. Funding: `funding_times` int64 ms
ascending, `funding_rates` float64, `funding_marks` float64 (NaN: use the candle's open).

Seed: both sides' EMAs and the last price = candles[0].close. Candles 1 .. W (W = `warmup`)
only update the EMAs, as the live bot warms up on history before it trades. The orders resting
at candle W+1's open are ideal_orders of the state after candle W. Then for each candle i > W:
 0. every funding event with time <= candle i's open time not yet charged is settled on both
    positions at its mark price (`margin.funding_payment_nb`), recorded as a KIND_FUNDING row;
 1. unless the candle opens past the liquidation price (then nothing fills before the
    liquidation at the open), the book resting at candle i's open (both sides) is filled by
    `fills.fill_sequence_nb` and settled by `fills.apply_fill_nb` (maker fee), in settlement
    order; an entry that the
    account's available margin cannot carry (`margin.entry_margin_ok_nb`, unrealized pnl at
    the price the book was made at, the previous close) is refused and counted;
 2. the hedged liquidation price (recomputed only after a fill or funding; tiers chosen at the
    liquidation price) is checked against the candle's range; if reached, both positions close
    at it (at the open when the candle opens past it; taker fee), the margin left is lost
    (balance 0, `margin.liquidation_balance_nb`) and the run ends;
 3. drawdown: the candle's worst equity (long marked at the low, short at the high, positions
    as after the candle) against the running peak of close equity;
 4. the EMAs update on the close, last price = close;
 5. the orders resting at candle i+1's open are `grid.ideal_orders_nb` of the new state, cached
    by `passivbot.backtest.book` (identical to recomputing every candle, which
    `recompute_every_candle=True` does; a test compares both modes).

Bounded loss (`passivbot.risk`), off when `unstuck` / `stop_params` are None (numba prunes a
branch on a None argument, so the loop compiled without them is the loop without them):
- auto-unstuck: in step 5, a side whose exposure is above its unstuck threshold gets its closes
  from `risk.closes_with_unstuck_nb` every candle (the unstuck close follows the EMA band), with
  the peak wallet balance (raised after every candle's fills, funding and stop) and the side's
  cumulative unstuck loss (each KIND_UNSTUCK_CLOSE fill adds max(0, fee - pnl));
- equity stop: after step 3, `risk.equity_stop_nb` on the close equity at the candle's close
  time; when it fires no order rests at the next open, both positions close at market at that
  open after its funding (KIND_STOP_CLOSE rows at `fills.market_price_nb`: the open one price
  step against the taker, as the emulator fills a market order there; taker fee; a candle
  opening past the liquidation price liquidates instead), and until the cool-down ends no entry rests
  (`risk.entries_allowed_nb` at each next open).

No allocation happens in a candle without fills unless the last price reaches a cached grid.
"""

import numpy as np
from numba import njit

from passivbot.backtest.account import (
    CNT_EQUITY, CNT_FILLS, EQ_BALANCE, EQ_COLS, EQ_EQUITY, EQ_LIQ_PRICE, EQ_PPRICE_LONG,
    EQ_PPRICE_SHORT, EQ_PRICE, EQ_PSIZE_LONG, EQ_PSIZE_SHORT, EQ_TS, EQUITY_EVERY, MINUTE_MS,
    N_SUMMARY, S_CLOSEST_LIQ, S_FUNDING_EVENTS, S_FUNDING_PAID, S_FUNDING_RECEIVED, S_GAP_INDEX,
    S_LAST_INDEX, S_LIQ_MARGIN_LOST, S_LIQUIDATED, S_MARGIN_REFUSED, S_MAX_DRAWDOWN,
    S_MAX_WE_LONG, S_MAX_WE_SHORT, S_PEAK_BALANCE, S_STOPS, S_UNSTUCK_LOSS_LONG,
    S_UNSTUCK_LOSS_SHORT, S_WARMUP, end_in_liquidation_nb, fund_nb, liq_distance_nb,
    liquidation_book_nb, sample_equity_nb, settle_nb, stop_close_book_nb,
    trades_before_liquidation_nb,
)
from passivbot.backtest.book import (
    book_nb, close_buffer_len_nb, closes_current_nb, entries_uncapped_nb, precheck_nb,
    refresh_side_nb, set_closes_nb,
)
from passivbot.errors import InputError
from passivbot.fills import fill_sequence_nb
from passivbot.grid import (
    MAX_ENTRY_ORDERS, close_cap_price_nb, ema_alpha_nb, ema_update_nb, entry_cap_price_nb,
    initial_entry_price_nb,
)
from passivbot.margin import (
    hedged_liq_price_nb, is_liquidated_nb, liquidation_fill_price_nb,
)
from passivbot.records import (
    KIND_UNSTUCK_CLOSE, LONG, M_QTY_STEP, ORDER_COLS,
    P_EMA_SPAN_0, P_EMA_SPAN_1, P_ENABLED, P_WALLET_EXPOSURE_LIMIT, fill_dt, side_dt,
)
from passivbot.risk import (
    N_RISK_PARAMS, N_STOP_PARAMS, S_DRAWDOWN, STOP_FIRE, U_THRESHOLD, closes_with_unstuck_nb,
    entries_allowed_nb, equity_stop_nb,
)

# The engine's output layout is defined in account.py and is part of this module's interface.
__all__ = [
    "CandleGapError", "EQ_BALANCE", "EQ_COLS", "EQ_EQUITY", "EQ_LIQ_PRICE", "EQ_PPRICE_LONG",
    "EQ_PPRICE_SHORT", "EQ_PRICE", "EQ_PSIZE_LONG", "EQ_PSIZE_SHORT", "EQ_TS", "EQUITY_EVERY",
    "N_SUMMARY", "S_CLOSEST_LIQ", "S_FUNDING_EVENTS", "S_FUNDING_PAID", "S_FUNDING_RECEIVED",
    "S_GAP_INDEX", "S_LAST_INDEX", "S_LIQ_MARGIN_LOST", "S_LIQUIDATED", "S_MARGIN_REFUSED",
    "S_MAX_DRAWDOWN", "S_MAX_WE_LONG", "S_MAX_WE_SHORT", "S_PEAK_BALANCE", "S_STOPS",
    "S_UNSTUCK_LOSS_LONG", "S_UNSTUCK_LOSS_SHORT", "S_WARMUP", "risk_args", "run_backtest",
    "run_backtest_nb",
]


class CandleGapError(InputError, ValueError):
    """Candle rows that are not one minute apart (the engine counts time in rows); an input
    error: the CLI prints the message and exits 2."""


@njit(cache=True)
def run_backtest_nb(
    candles: np.ndarray,
    long_params: np.ndarray,
    short_params: np.ndarray,
    market: np.ndarray,
    brackets: np.ndarray,
    starting_balance: float,
    maker_fee: float,
    taker_fee: float,
    mmr_add: float,
    recompute_every_candle: bool,
    leverage: float,
    funding_times: np.ndarray,
    funding_rates: np.ndarray,
    funding_marks: np.ndarray,
    warmup: int,
    unstuck,
    stop_params,
) -> tuple:
    """(fills as fill_dt records, equity (h, EQ_COLS), summary (N_SUMMARY,)).

    `leverage` = inf skips the initial-margin check; empty funding arrays model no funding;
    `unstuck`: float64 (2, risk.N_RISK_PARAMS) long and short, or None (off); `stop_params`:
    float64 (risk.N_STOP_PARAMS,) or None (off)."""
    n = candles.shape[0]
    qty_step = market[M_QTY_STEP]
    # np.empty + explicit zeroing everywhere: np.zeros / np.arange would each add compile time
    st = np.empty(2, dtype=side_dt)
    for j in range(2):
        s = st[j]
        s.psize, s.pprice, s.l_ent, s.l_cls, s.ent_cap, s.cls_limit = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        s.near_ent, s.near_cls, s.init_price, s.init_qty = 0.0, 0.0, 0.0, 0.0
        s.n_ent, s.n_cls, s.ent_dirty = 0, 0, 0
    ent = np.empty((2, MAX_ENTRY_ORDERS, ORDER_COLS))
    # + 1: an unstuck close rests beside the take-profit grid of the rest of the position
    cls = np.empty((2, close_buffer_len_nb(long_params, short_params) + 1, ORDER_COLS))
    rows = np.empty(256, dtype=fill_dt)
    warmup = max(0, min(warmup, n - 1))
    eq = np.empty(((n - warmup) // EQUITY_EVERY + warmup // EQUITY_EVERY + 2, EQ_COLS))
    cnt = np.empty(2, dtype=np.int64)
    cnt[CNT_FILLS] = 0
    cnt[CNT_EQUITY] = 0
    summary = np.empty(N_SUMMARY)
    for c in range(N_SUMMARY):
        summary[c] = 0.0
    summary[S_CLOSEST_LIQ] = 1.0
    summary[S_WARMUP] = warmup
    balance = starting_balance
    liq, liq_dir = 0.0, 0
    if n == 0:
        return rows[:0], eq[:0], summary
    last = candles[0, 4]
    for j in range(2):
        params = long_params if j == 0 else short_params
        s = st[j]
        s.ema0 = last
        s.ema1 = last
        s.alpha0 = ema_alpha_nb(params[P_EMA_SPAN_0])
        s.alpha1 = ema_alpha_nb(params[P_EMA_SPAN_1])
        s.enabled = params[P_ENABLED]
    nf = funding_times.shape[0]
    fk = 0
    peak = starting_balance
    dd_floor = peak
    # bounded loss (passivbot.risk): the state the live bot persists too
    uloss = np.empty(2)  # realized unstuck loss per side
    uloss[0] = 0.0
    uloss[1] = 0.0
    peak_balance = starting_balance
    peak_eq = starting_balance
    stop_until = np.int64(0)
    stop_pending = False  # the stop fired at the last close: close at this candle's open
    n0 = 0
    # warm-up: candles 1 .. W only feed the EMAs. Its hourly equity samples (flat: the starting
    # balance; W // 60 of them, on the same hour grid as the trading ones) keep equity.csv over
    # the whole range; stats start at the sample of candle W.
    if warmup % EQUITY_EVERY == 0 and warmup > 0:
        sample_equity_nb(eq, cnt, candles[0], balance, st, 0.0)
    for i in range(1, warmup + 1):
        if candles[i, 0] - candles[i - 1, 0] != MINUTE_MS:
            summary[S_GAP_INDEX] = i
            return rows[:0], eq[:0], summary
        if (warmup - i) % EQUITY_EVERY == 0 and i < warmup:
            sample_equity_nb(eq, cnt, candles[i], balance, st, 0.0)
        last = candles[i, 4]
        for j in range(2):
            s = st[j]
            s.ema0 = ema_update_nb(s.ema0, last, s.alpha0)
            s.ema1 = ema_update_nb(s.ema1, last, s.alpha1)
    # the orders resting at candle W+1's open; funding due before it is not the account's
    for j in range(2):
        refresh_side_nb(j, st, ent, cls, balance, last, long_params if j == 0 else short_params,
                        market, True, recompute_every_candle)
    while fk < nf and funding_times[fk] <= candles[warmup, 0]:
        fk += 1
    sample_equity_nb(eq, cnt, candles[warmup], balance, st, 0.0)
    next_funding = float(funding_times[fk]) if fk < nf else np.inf
    i_end = warmup
    # rows one minute apart: counted here without a branch (a test that leaves the loop costs
    # it a fifth of its speed), located after the loop
    n_gaps = 0
    ts_prev = candles[warmup, 0]
    for i in range(warmup + 1, n):
        ts = candles[i, 0]
        n_gaps += ts - ts_prev != MINUTE_MS
        ts_prev = ts
        i_end = i
        high = candles[i, 2]
        low = candles[i, 3]
        balance_open = balance  # what the resting orders were computed from
        funded = False
        filled = False
        # 0. funding events due at this candle's open
        while ts >= next_funding:  # the next event's time in a register: no load per candle
            summary[S_FUNDING_EVENTS] += 1.0
            if st[0].psize > 0.0 or st[1].psize > 0.0:
                mark = funding_marks[fk]
                if np.isnan(mark):
                    mark = candles[i, 1]
                rows, balance = fund_nb(rows, cnt, summary, st, balance, mark, funding_rates[fk],
                                         i, ts)
                funded = True
            fk += 1
            next_funding = float(funding_times[fk]) if fk < nf else np.inf
        stop_filled = False
        if stop_params is not None:
            if stop_pending:
                # 0b. the equity stop's market close at this open (no order rests), unless the
                # candle opens past the liquidation price (step 2 liquidates it then)
                stop_pending = False
                if trades_before_liquidation_nb(liq, liq_dir, candles[i, 1]):
                    book = stop_close_book_nb(st, candles[i, 1], market)
                    seq = np.empty(book.shape[0], dtype=np.int64)
                    for r in range(book.shape[0]):
                        seq[r] = r
                    rows, balance, stop_filled = settle_nb(rows, cnt, summary, st, book, seq,
                                                           taker_fee, balance, qty_step, i, ts,
                                                           np.inf, last)
        if unstuck is not None:
            n0 = cnt[CNT_FILLS]
        # 1. fills of the book resting at this candle's open, unless the candle opens past the
        # liquidation price (nothing trades before the liquidation at the open; tested only when
        # an order can fill, and against the price before this candle's funding)
        if precheck_nb(st, low, high):
            book = book_nb(st, ent, cls, balance_open, long_params, short_params, market, last)
            seq = fill_sequence_nb(book, low, high)
            if not trades_before_liquidation_nb(liq, liq_dir, candles[i, 1]):
                seq = seq[:0]
            rows, balance, filled = settle_nb(rows, cnt, summary, st, book, seq, maker_fee,
                                               balance, qty_step, i, ts, leverage, last)
        if unstuck is not None:
            if filled:
                for r in range(n0, cnt[CNT_FILLS]):
                    if rows[r].kind == KIND_UNSTUCK_CLOSE:
                        uloss[0 if rows[r].side == LONG else 1] += max(
                            0.0, rows[r].fee - rows[r].pnl)
        if stop_params is not None:
            filled = filled or stop_filled  # a stop close moved the positions: refresh all
        changed = funded or filled
        if changed:
            liq, liq_dir = hedged_liq_price_nb(
                balance, st[0].psize, st[0].pprice, st[1].psize, st[1].pprice, brackets, mmr_add,
            )
        # 2. liquidation: both positions close (taker fee), the margin left is lost; the end
        if st[0].psize > 0.0 or st[1].psize > 0.0:
            if is_liquidated_nb(liq, liq_dir, low, high):
                book = liquidation_book_nb(st, liquidation_fill_price_nb(liq, liq_dir, candles[i, 1]))
                seq = np.empty(book.shape[0], dtype=np.int64)
                for r in range(book.shape[0]):
                    seq[r] = r
                rows, balance, _ = settle_nb(rows, cnt, summary, st, book, seq, taker_fee,
                                              balance, qty_step, i, ts, np.inf, last)
                balance = end_in_liquidation_nb(rows, cnt, summary, balance)
                liq, liq_dir = 0.0, 0
                break
            dist = liq_distance_nb(liq, liq_dir, low, high)
            if dist < summary[S_CLOSEST_LIQ]:
                summary[S_CLOSEST_LIQ] = dist
        if unstuck is not None:
            if balance > peak_balance:
                peak_balance = balance
        # 3. drawdown from this candle's worst equity (a flat side adds 0: psize 0, pprice 0);
        # dd_floor = peak x (1 - max drawdown): one comparison per candle, no division
        psl, ppl, pss, pps = st[0].psize, st[0].pprice, st[1].psize, st[1].pprice
        worst = balance + psl * (low - ppl) - pss * (high - pps)
        if worst < dd_floor:
            dd_floor = worst
            summary[S_MAX_DRAWDOWN] = (peak - worst) / peak
        close = candles[i, 4]
        close_equity = balance + psl * (close - ppl) - pss * (close - pps)
        if close_equity > peak:
            peak = close_equity
            dd_floor = peak * (1.0 - summary[S_MAX_DRAWDOWN])
        if stop_params is not None:
            decision, stop_until, peak_eq = equity_stop_nb(
                close_equity, peak_eq, stop_until, np.int64(ts) + MINUTE_MS, stop_params)
            if decision == STOP_FIRE:
                summary[S_STOPS] += 1.0
                stop_pending = st[0].psize > 0.0 or st[1].psize > 0.0
        # 4. EMAs and last price on the close
        last = candles[i, 4]
        for j in range(2):
            s = st[j]
            s.ema0 = ema_update_nb(s.ema0, last, s.alpha0)
            s.ema1 = ema_update_nb(s.ema1, last, s.alpha1)
        # 5. the orders resting at the next candle's open
        for j in range(2):
            side = 1 - 2 * j  # LONG, SHORT
            s = st[j]
            if filled or recompute_every_candle:
                stale = True
            elif s.psize > 0.0:
                # the cached grids still ideal at the caps of `last` (closes_current_nb and
                # entries_uncapped_nb on the record's fields; False: ask refresh_side_nb). Written
                # out, not a helper: through one (record or scalar arguments) this loop ran 16-32 %
                # slower on the bundled ETHUSDT (27.5 M vs 18.6 M candles/s with the record)
                current = closes_current_nb(side, s.l_cls, s.cls_limit,
                                            close_cap_price_nb(last, side, market)) \
                    and entries_uncapped_nb(side, s.l_ent, s.ent_cap,
                                            entry_cap_price_nb(last, side, market))
                stale = funded or not current
            else:
                # flat: the initial entry's price follows the EMAs every candle (sized lazily).
                # Each side's parameters passed by name: `long_params if j == 0 else
                # short_params` here made the whole loop ~15 % slower (measured).
                stale = False
                if s.enabled != 0.0:
                    lo, hi = min(s.ema0, s.ema1), max(s.ema0, s.ema1)
                    cap = entry_cap_price_nb(last, side, market)
                    if j == 0:
                        s.init_price = initial_entry_price_nb(side, lo, hi, cap, long_params,
                                                              market)
                    else:
                        s.init_price = initial_entry_price_nb(side, lo, hi, cap, short_params,
                                                              market)
            if stale:
                refresh_side_nb(j, st, ent, cls, balance, last,
                                long_params if j == 0 else short_params, market, filled,
                                recompute_every_candle, funded)
            if unstuck is not None:
                if s.psize > 0.0 and balance > 0.0 and unstuck[j, U_THRESHOLD] > 0.0:
                    params = long_params if j == 0 else short_params
                    # the kernel's own exposure test: above it the close follows the EMAs
                    if (s.psize * s.pprice / balance
                            > unstuck[j, U_THRESHOLD] * params[P_WALLET_EXPOSURE_LIMIT]):
                        closes, _ = closes_with_unstuck_nb(
                            side, balance, s.psize, s.pprice, min(s.ema0, s.ema1),
                            max(s.ema0, s.ema1), last, params, unstuck[j], market,
                            peak_balance, uloss[j], maker_fee)
                        set_closes_nb(j, st, cls, closes, last)
        if stop_params is not None:
            if not entries_allowed_nb(stop_until, np.int64(ts) + MINUTE_MS):
                for j in range(2):
                    s = st[j]
                    s.n_ent = 0
                    s.near_ent = np.nan
                    s.init_price = np.nan
                    if stop_pending:  # cancelled: the market close at the open replaces them
                        s.n_cls = 0
                        s.near_cls = np.nan
        if (i - warmup) % EQUITY_EVERY == 0 and i != n - 1:
            sample_equity_nb(eq, cnt, candles[i], balance, st, liq)
    if n_gaps > 0:
        for i in range(warmup + 1, n):
            if candles[i, 0] - candles[i - 1, 0] != MINUTE_MS:
                summary[S_GAP_INDEX] = i
                break
    if i_end > warmup:
        sample_equity_nb(eq, cnt, candles[i_end], balance, st, liq)
    summary[S_LAST_INDEX] = i_end
    summary[S_UNSTUCK_LOSS_LONG] = uloss[0]
    summary[S_UNSTUCK_LOSS_SHORT] = uloss[1]
    summary[S_PEAK_BALANCE] = peak_balance
    return rows[: cnt[CNT_FILLS]], eq[: cnt[CNT_EQUITY]], summary


def risk_args(long_risk: np.ndarray | None, short_risk: np.ndarray | None,
               stop_params: np.ndarray | None) -> tuple:
    """(unstuck (2, N_RISK_PARAMS) or None, stop (N_STOP_PARAMS,) or None): None when the rule
    is off (threshold / drawdown 0), so the kernel compiled for None runs without it."""
    sides = []
    for a in (long_risk, short_risk):
        a = np.zeros(N_RISK_PARAMS) if a is None else np.ascontiguousarray(a, dtype=np.float64)
        if a.shape != (N_RISK_PARAMS,):
            raise ValueError(f"unstuck parameters must have shape ({N_RISK_PARAMS},), "
                             f"got {a.shape}")
        sides.append(a)
    unstuck = np.stack(sides) if max(a[U_THRESHOLD] for a in sides) > 0.0 else None
    stop = None
    if stop_params is not None:
        stop = np.ascontiguousarray(stop_params, dtype=np.float64)
        if stop.shape != (N_STOP_PARAMS,):
            raise ValueError(f"stop parameters must have shape ({N_STOP_PARAMS},), "
                             f"got {stop.shape}")
        if stop[S_DRAWDOWN] <= 0.0:
            stop = None
    return unstuck, stop


_NO_TIMES = np.zeros(0, dtype=np.int64)
_NO_FLOATS = np.zeros(0, dtype=np.float64)


def run_backtest(
    candles: np.ndarray,
    long_params: np.ndarray,
    short_params: np.ndarray,
    market: np.ndarray,
    brackets: np.ndarray,
    starting_balance: float,
    maker_fee: float,
    taker_fee: float,
    mmr_add: float = 0.0,
    recompute_every_candle: bool = False,
    *,
    leverage: float = np.inf,
    funding_times: np.ndarray | None = None,
    funding_rates: np.ndarray | None = None,
    funding_marks: np.ndarray | None = None,
    warmup: int = 0,
    long_risk: np.ndarray | None = None,
    short_risk: np.ndarray | None = None,
    stop_params: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fills as fill_dt records, equity (h, EQ_COLS), summary (N_SUMMARY,)) of one replay.

    Thin wrapper over `run_backtest_nb`: contiguous float64 arrays, defaults, and the candle
    gap status turned into CandleGapError. `leverage` inf (the default) skips the
    initial-margin check; no funding arrays = no funding modelled; `warmup` = 0 trades from
    candle 1 (what the parity harness aligns on). `long_risk`/`short_risk` (risk.U_*) and
    `stop_params` (risk.S_*): the bounded-loss rules, None or zeros = off.
    """
    f64 = np.float64
    candles = np.ascontiguousarray(candles, dtype=f64)
    if funding_times is None or len(funding_times) == 0:
        ft, fr, fm = _NO_TIMES, _NO_FLOATS, _NO_FLOATS
    else:
        ft = np.ascontiguousarray(funding_times, dtype=np.int64)
        fr = np.ascontiguousarray(funding_rates, dtype=f64)
        fm = (np.full(len(ft), np.nan) if funding_marks is None
              else np.ascontiguousarray(funding_marks, dtype=f64))
        if not (len(ft) == len(fr) == len(fm)):
            raise ValueError(f"funding arrays differ in length: times {len(ft)}, rates {len(fr)}, "
                             f"marks {len(fm)}")
        if len(ft) > 1 and (np.diff(ft) <= 0).any():
            raise ValueError("funding times must be strictly ascending")
    rows, equity, summary = run_backtest_nb(
        candles,
        np.ascontiguousarray(long_params, dtype=f64),
        np.ascontiguousarray(short_params, dtype=f64),
        np.ascontiguousarray(market, dtype=f64),
        np.ascontiguousarray(brackets, dtype=f64),
        float(starting_balance), float(maker_fee), float(taker_fee), float(mmr_add),
        bool(recompute_every_candle), float(leverage), ft, fr, fm, int(warmup),
        *risk_args(long_risk, short_risk, stop_params),
    )
    gap = int(summary[S_GAP_INDEX])
    if gap:
        raise CandleGapError(
            f"candles are not one minute apart: row {gap - 1} at {_iso(candles[gap - 1, 0])} is "
            f"followed by row {gap} at {_iso(candles[gap, 0])} ({(candles[gap, 0] - candles[gap - 1, 0]) / MINUTE_MS:g} "
            f"minutes later); the backtest counts time in rows, so a gap must be filled or the "
            f"range split (docs/backtest.md, 'Candles')")
    return rows, equity, summary


def _iso(ms: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
