"""The multi-symbol replay kernel: several symbols' 1-minute candles on one minute axis, one wallet.

Conventions as in `passivbot.backtest.engine`, with a leading symbol axis: candles float64
(S, T, 6) on a common axis (row t of every symbol is minute t; rows outside a symbol's
[first[k], last[k]] are NaN and never read), params (S, 2, N_PARAMS) (long, short), market
(S, N_MARKET), brackets (S, B, BRACKET_COLS) padded by repeating the last tier, funding events
of all symbols concatenated, symbol k's in [f_off[k], f_off[k+1]).

Per symbol, each minute does exactly what the one-symbol engine does (same functions: book
cache, fill rule, settlement, funding, EMA warm-up of warmup[k] candles from its first row),
with symbols processed in index order inside a minute and every book made from the balance at
the minute's open. What is the account's:
- one balance: a fill or funding on one symbol moves the balance every other symbol's entry
  grid is sized from (their grids are refreshed as after a funding payment);
- initial margin: an entry is refused when the account's available margin (all positions,
  unrealized pnl at each symbol's previous close) cannot carry it;
- liquidation: while at most one symbol holds positions, its hedged liquidation price with the
  whole balance (what the one-symbol engine does, bit for bit); with two or more, the account
  is liquidated in a minute where its equity, every position marked at its candle's worst price
  (long at the low, short at the high), falls to the sum of the maintenance margins at those
  prices (conservative: all worst prices at once); every position then closes at that worst
  price (taker fee) and the balance is 0;
- a symbol whose candles end before the axis stops trading: no orders; its positions stay open,
  marked at its last close (margin, equity and liquidation included);
- selection (n_pos[j] < S): every `sel_every` minutes from the account's first trading minute,
  `passivbot.selection` chooses per side which flat symbols may open (score over the last
  `sel_window` candles); open positions are always managed until closed;
- bounded loss (`unstuck`, `stop_params`; None = off): auto-unstuck per symbol and side with
  the account's peak balance, the equity stop on the account's equity (`multi_replay`).

The minute loop is `multi_replay.replay_nb`; this module prepares its arrays and sums up.
"""

import numpy as np
from numba import njit

from passivbot.backtest.account import (
    CNT_EQUITY, CNT_FILLS, EQUITY_EVERY, N_SUMMARY, S_CLOSEST_LIQ, S_FUNDING_EVENTS,
    S_FUNDING_PAID, S_FUNDING_RECEIVED, S_LAST_INDEX, S_MARGIN_REFUSED, S_PEAK_BALANCE,
    S_UNSTUCK_LOSS_LONG, S_UNSTUCK_LOSS_SHORT, S_WARMUP,
)
from passivbot.backtest.book import close_buffer_len_nb
from passivbot.backtest.multi_account import (  # noqa: F401 (AE_*, SE_*: the output layout)
    AE_BALANCE, AE_COLS, AE_EQUITY, AE_LIQ_PRICE, AE_TS, SE_COLS, SE_PPRICE_LONG,
    SE_PPRICE_SHORT, SE_PRICE, SE_PSIZE_LONG, SE_PSIZE_SHORT, sample_nb,
)
from passivbot.backtest.multi_replay import replay_nb
from passivbot.grid import MAX_ENTRY_ORDERS
from passivbot.records import ORDER_COLS, P_ENABLED, fill_dt, side_dt


@njit(cache=True)
def run_multi_nb(candles, axis_ts, first, last, params, market, brackets, n_br, mmr_add,
                 starting_balance, maker_fee, taker_fee, recompute_every_candle, leverage,
                 f_times, f_rates, f_marks, f_off, warmup, n_pos, sel_every, sel_window,
                 unstuck=None, stop_params=None):
    """(fills fill_dt, fill symbol int64, account equity (h, AE_COLS), symbol equity
    (h, S, SE_COLS), account summary (N_SUMMARY,), symbol summaries (S, N_SUMMARY)).

    `unstuck`: float64 (S, 2, risk.N_RISK_PARAMS) or None (off); `stop_params`: float64
    (risk.N_STOP_PARAMS,) or None (off)."""
    S = candles.shape[0]
    T = candles.shape[1]
    wp = params.copy()  # working params: P_ENABLED gated by the selection
    st = np.empty((S, 2), dtype=side_dt)
    n_cls_max = 1
    for k in range(S):
        # + 1: an unstuck close rests beside the take-profit grid of the rest of the position
        n_cls_max = max(n_cls_max, close_buffer_len_nb(params[k, 0], params[k, 1]) + 1)
    ent = np.empty((S, 2, MAX_ENTRY_ORDERS, ORDER_COLS))
    cls = np.empty((S, 2, n_cls_max, ORDER_COLS))
    rows = np.empty(256, dtype=fill_dt)
    rsym = np.empty(256, dtype=np.int64)
    cnt = np.empty(2, dtype=np.int64)
    cnt[CNT_FILLS] = 0
    cnt[CNT_EQUITY] = 0
    asum = np.zeros(N_SUMMARY)
    ssum = np.zeros((S, N_SUMMARY))
    asum[S_CLOSEST_LIQ] = 1.0
    lastp = np.full(S, np.nan)
    fk = f_off[:S].copy()
    next_f = np.full(S, np.inf)
    start = np.empty(S, dtype=np.int64)  # first trading minute (after the warm-up)
    t_start = T
    for k in range(S):
        w = max(0, min(warmup[k], last[k] - first[k]))
        start[k] = first[k] + w
        ssum[k, S_WARMUP] = w
        ssum[k, S_CLOSEST_LIQ] = 1.0
        t_start = min(t_start, start[k])
        for j in range(2):
            s = st[k, j]
            s.psize, s.pprice, s.l_ent, s.l_cls = 0.0, 0.0, 0.0, 0.0
            s.ent_cap, s.cls_limit = 0.0, 0.0
            s.near_ent, s.near_cls, s.init_price, s.init_qty = np.nan, np.nan, np.nan, 0.0
            s.n_ent, s.n_cls, s.ent_dirty = 0, 0, 0
            if n_pos[j] < S:
                wp[k, j, P_ENABLED] = 0.0  # until the first selection
            s.enabled = wp[k, j, P_ENABLED]
    asum[S_WARMUP] = t_start
    h = T // EQUITY_EVERY + 3
    eq = np.empty((h, AE_COLS))
    seq_ = np.empty((h, S, SE_COLS))
    balance = starting_balance
    if T == 0 or t_start >= T:
        return rows[:0], rsym[:0], eq[:0], seq_[:0], asum, ssum
    rows, rsym, balance, liq, t_end, peak_balance = replay_nb(
        candles, axis_ts, first, last, params, market, brackets, n_br, mmr_add,
        starting_balance, maker_fee, taker_fee, recompute_every_candle, leverage, f_times,
        f_rates, f_marks, f_off, n_pos, sel_every, sel_window, wp, st, ent, cls, rows, rsym, cnt,
        asum, ssum, lastp, fk, next_f, start, t_start, eq, seq_, unstuck, stop_params)
    if t_end > t_start:
        sample_nb(eq, seq_, cnt, t_end, axis_ts[t_end], balance, st, lastp, liq, S)
    asum[S_LAST_INDEX] = t_end
    asum[S_PEAK_BALANCE] = peak_balance
    for k in range(S):
        ssum[k, S_LAST_INDEX] = min(t_end, last[k])
        asum[S_FUNDING_PAID] += ssum[k, S_FUNDING_PAID]
        asum[S_FUNDING_RECEIVED] += ssum[k, S_FUNDING_RECEIVED]
        asum[S_FUNDING_EVENTS] += ssum[k, S_FUNDING_EVENTS]
        asum[S_MARGIN_REFUSED] += ssum[k, S_MARGIN_REFUSED]
        asum[S_UNSTUCK_LOSS_LONG] += ssum[k, S_UNSTUCK_LOSS_LONG]
        asum[S_UNSTUCK_LOSS_SHORT] += ssum[k, S_UNSTUCK_LOSS_SHORT]
    return rows[: cnt[CNT_FILLS]], rsym[: cnt[CNT_FILLS]], eq[: cnt[CNT_EQUITY]], \
        seq_[: cnt[CNT_EQUITY]], asum, ssum
