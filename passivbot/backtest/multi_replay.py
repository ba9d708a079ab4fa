"""The minute loop of the multi-symbol replay (`multi_nb` documents the rules and the array
conventions; `run_multi_nb` prepares every array this loop reads and writes).

Bounded loss (`passivbot.risk`), off when `unstuck` / `stop_params` are None (numba prunes a
branch on a None argument, as in the one-symbol engine):
- auto-unstuck, per symbol and side: `unstuck` float64 (S, 2, risk.N_RISK_PARAMS); the side's
  closes come from `risk.closes_with_unstuck_nb` every minute it is above its threshold, with
  the ACCOUNT's peak wallet balance and the symbol side's own realized unstuck loss
  (ssum[k, S_UNSTUCK_LOSS_LONG + j]): each symbol may lose its allowance x the peak balance;
- equity stop on the ACCOUNT's equity (every position marked at its close): when it fires,
  every position of every symbol closes at market at the next open (its candle's open, or a
  symbol whose data ended: its last close, one book width against the taker:
  `fills.market_price_nb`), and no symbol places an entry until the cool-down ends. With one symbol both rules are the one-symbol engine's, bit for bit.
"""

import numpy as np
from numba import njit

from passivbot.backtest.account import (
    CNT_FILLS, EQUITY_EVERY, MINUTE_MS, S_CLOSEST_LIQ, S_FUNDING_EVENTS, S_MAX_DRAWDOWN,
    S_STOPS, S_UNSTUCK_LOSS_LONG, end_in_liquidation_nb, fund_nb, liq_distance_nb,
    liquidation_book_nb, settle_account_nb, stop_close_book_nb, trades_before_liquidation_nb,
)
from passivbot.backtest.borrow import borrowed_view
from passivbot.backtest.book import (
    book_nb, closes_current_nb, entries_uncapped_nb, refresh_side_nb, set_closes_nb,
)
from passivbot.backtest.multi_account import (
    cancel_orders_nb, grow_int_nb, sample_nb, settle_all_nb, symbol_precheck_nb, worst_nb,
)
from passivbot.fills import fill_sequence_nb
from passivbot.grid import (
    close_cap_price_nb, ema_alpha_nb, ema_update_nb, entry_cap_price_nb, initial_entry_price_nb,
)
from passivbot.margin import (
    hedged_liq_price_nb, is_liquidated_nb, liquidation_fill_price_nb, maintenance_margin_nb,
)
from passivbot.records import (
    KIND_UNSTUCK_CLOSE, LONG, M_QTY_STEP, P_EMA_SPAN_0, P_EMA_SPAN_1,
    P_ENABLED, P_WALLET_EXPOSURE_LIMIT,
)
from passivbot.risk import (
    STOP_FIRE, U_THRESHOLD, closes_with_unstuck_nb, entries_allowed_nb, equity_stop_nb,
)
from passivbot.selection import score_nb, select_nb


@njit(cache=True)
def replay_nb(candles, axis_ts, first, last, params, market, brackets, n_br, mmr_add,
              starting_balance, maker_fee, taker_fee, recompute_every_candle, leverage, f_times,
              f_rates, f_marks, f_off, n_pos, sel_every, sel_window, wp, st, ent, cls, rows, rsym,
              cnt, asum, ssum, lastp, fk, next_f, start, t_start, eq, seq_, unstuck,
              stop_params):
    """The minute loop of `run_multi_nb`, which prepares every array: (rows, rsym, balance,
    liquidation price, last minute run, peak balance)."""
    S = candles.shape[0]
    T = candles.shape[1]
    selecting = n_pos[0] < S or n_pos[1] < S
    balance = starting_balance
    # Per-symbol rows (market[k], wp[k, j], st[k], ...) are views made several times a minute:
    # borrowed arrays make them without atomic reference counts (passivbot.backtest.borrow;
    # the caller holds these arguments for the whole call).
    candles, params, market, brackets = (borrowed_view(candles), borrowed_view(params),
                                         borrowed_view(market), borrowed_view(brackets))
    wp, st, ent, cls = borrowed_view(wp), borrowed_view(st), borrowed_view(ent), \
        borrowed_view(cls)
    liq, liq_dir, n_hold, holder = 0.0, 0, 0, 0
    peak = starting_balance
    dd_floor = peak
    allowed = np.empty(S, dtype=np.bool_)
    eligible = np.empty(S, dtype=np.bool_)
    is_open = np.empty(S, dtype=np.bool_)
    scores = np.empty(S)
    changed_k = np.zeros(S, dtype=np.bool_)
    filled_k = np.zeros(S, dtype=np.bool_)
    funded_k = np.zeros(S, dtype=np.bool_)
    t_end = t_start
    # bounded loss (passivbot.risk): the account's state (unstuck losses live in ssum)
    peak_balance = starting_balance
    peak_eq = starting_balance
    stop_until = np.int64(0)
    stop_pending = False  # the stop fired at the last close: close at this minute's open
    stop_k = np.zeros(S, dtype=np.bool_)  # symbols the stop closed this minute
    t_seeded = 0  # the last minute a symbol seeds or warms up
    for k in range(S):
        t_seeded = max(t_seeded, start[k])
    next_f_min = np.inf  # the next funding time of any symbol
    for t in range(T):
        ts = axis_ts[t]
        balance_open = balance
        n_changed = 0
        # 0. seeds, warm-ups and funding (skipped in the minutes with none)
        seeding_or_funding = t <= t_seeded or ts >= next_f_min
        for k in range(S if seeding_or_funding else 0):
            funded_k[k] = False
            if t < first[k] or t > last[k]:
                continue
            if t <= start[k]:  # seed, warm-up, and the orders resting at the first open
                c = candles[k, t, 4]
                for j in range(2):
                    s = st[k, j]
                    if t == first[k]:
                        s.ema0 = c
                        s.ema1 = c
                        s.alpha0 = ema_alpha_nb(params[k, j, P_EMA_SPAN_0])
                        s.alpha1 = ema_alpha_nb(params[k, j, P_EMA_SPAN_1])
                    else:
                        s.ema0 = ema_update_nb(s.ema0, c, s.alpha0)
                        s.ema1 = ema_update_nb(s.ema1, c, s.alpha1)
                lastp[k] = c
                if t == start[k]:
                    for j in range(2):
                        refresh_side_nb(j, st[k], ent[k], cls[k], balance, c, wp[k, j],
                                        market[k], True, recompute_every_candle)
                    if stop_params is not None:
                        if not entries_allowed_nb(stop_until, np.int64(ts) + MINUTE_MS):
                            cancel_orders_nb(st, k, False)
                    b = f_off[k + 1]
                    while fk[k] < b and f_times[fk[k]] <= ts:
                        fk[k] += 1
                    next_f[k] = float(f_times[fk[k]]) if fk[k] < b else np.inf
                continue
            # 0. funding due at this symbol's open
            while ts >= next_f[k]:
                ssum[k, S_FUNDING_EVENTS] += 1.0
                f = fk[k]
                if st[k, 0].psize > 0.0 or st[k, 1].psize > 0.0:
                    sk = st[k]
                    mark = f_marks[f]
                    if np.isnan(mark):
                        mark = candles[k, t, 1]
                    n0 = cnt[CNT_FILLS]
                    rows, balance = fund_nb(rows, cnt, ssum[k], sk, balance, mark, f_rates[f], t,
                                            ts)
                    rsym = grow_int_nb(rsym, cnt[CNT_FILLS])
                    for r in range(n0, cnt[CNT_FILLS]):
                        rsym[r] = k
                    funded_k[k] = True
                fk[k] = f + 1
                next_f[k] = float(f_times[f + 1]) if f + 1 < f_off[k + 1] else np.inf
        if seeding_or_funding:
            next_f_min = np.inf
            for k in range(S):
                if last[k] > t:  # a market whose data ended has no funding left to charge
                    next_f_min = min(next_f_min, next_f[k])
        if t < t_start and (t_start - t) % EQUITY_EVERY == 0:  # the warm-up's flat samples
            sample_nb(eq, seq_, cnt, t, ts, balance, st, lastp, 0.0, S)
        # the one holder's candle opens past its liquidation price: nothing trades before the
        # liquidation at that open (step 2)
        blocked = n_hold == 1 and first[holder] <= t <= last[holder] and t > start[holder] \
            and not trades_before_liquidation_nb(liq, liq_dir, candles[holder, t, 1])
        if stop_params is not None:
            # 0b. the equity stop's market close of every position at this open (no order
            # rests), unless the one holder's candle opens past its liquidation price
            for k in range(S):
                stop_k[k] = False
            if stop_pending:
                stop_pending = False
                for k in range(S if not blocked else 0):
                    if st[k, 0].psize > 0.0 or st[k, 1].psize > 0.0:
                        price = candles[k, t, 1] if first[k] <= t <= last[k] else lastp[k]
                        rows, rsym, balance, stop_k[k] = settle_all_nb(
                            rows, rsym, cnt, ssum, asum, st, k,
                            stop_close_book_nb(st[k], price, market[k]), taker_fee, balance,
                            market[k, M_QTY_STEP], t, ts, lastp, S)
        # 1. fills of every symbol's book resting at the open, in symbol order; then who holds
        n_hold = 0
        for k in range(S):
            changed_k[k] = False
            filled_k[k] = stop_k[k]
            if start[k] < t <= last[k]:
                low = candles[k, t, 3]
                high = candles[k, t, 2]
                if symbol_precheck_nb(st, k, low, high):
                    sk = st[k]
                    book = book_nb(sk, ent[k], cls[k], balance_open, wp[k, 0], wp[k, 1],
                                   market[k], lastp[k])
                    sq = fill_sequence_nb(book, low, high)
                    if blocked:
                        sq = sq[:0]
                    n0 = cnt[CNT_FILLS]
                    rows, balance, filled = settle_account_nb(
                        rows, cnt, ssum, asum, st, k, book, sq, maker_fee, balance,
                        market[k, M_QTY_STEP], t, ts, leverage, lastp, S)
                    rsym = grow_int_nb(rsym, cnt[CNT_FILLS])
                    for r in range(n0, cnt[CNT_FILLS]):
                        rsym[r] = k
                        if unstuck is not None:
                            if rows[r].kind == KIND_UNSTUCK_CLOSE:
                                ssum[k, S_UNSTUCK_LOSS_LONG + (0 if rows[r].side == LONG
                                                               else 1)] += max(
                                    0.0, rows[r].fee - rows[r].pnl)
                    filled_k[k] = filled or stop_k[k]
            changed_k[k] = filled_k[k] or funded_k[k]
            if changed_k[k]:
                n_changed += 1
            if st[k, 0].psize > 0.0 or st[k, 1].psize > 0.0:
                if n_hold == 0:
                    holder = k
                n_hold += 1
        # 2. liquidation of the account
        if S == 1:
            holder = 0
        liquidate = False
        if n_hold <= 1:
            if n_changed > 0:
                hk = st[holder]
                br = brackets[holder, :n_br[holder]]
                liq, liq_dir = hedged_liq_price_nb(balance, hk[0].psize, hk[0].pprice,
                                                   hk[1].psize, hk[1].pprice, br, mmr_add[holder])
            if n_hold == 1:
                if t <= last[holder]:
                    lo, hi, op = candles[holder, t, 3], candles[holder, t, 2], candles[holder, t, 1]
                else:
                    lo, hi, op = lastp[holder], lastp[holder], lastp[holder]
                if is_liquidated_nb(liq, liq_dir, lo, hi):
                    liquidate = True
                    price = liquidation_fill_price_nb(liq, liq_dir, op)
                    rows, rsym, balance, _ = settle_all_nb(
                        rows, rsym, cnt, ssum, asum, st, holder,
                        liquidation_book_nb(st[holder], price), taker_fee, balance,
                        market[holder, M_QTY_STEP], t, ts, lastp, S)
                else:
                    dist = liq_distance_nb(liq, liq_dir, lo, hi)
                    if dist < asum[S_CLOSEST_LIQ]:
                        asum[S_CLOSEST_LIQ] = dist
        else:
            liq, liq_dir = 0.0, 0
            worst = balance
            mm = 0.0
            for k in range(S):  # equity at the worst prices, maintenance margin there
                sk = st[k]
                if sk[0].psize > 0.0 or sk[1].psize > 0.0:
                    if first[k] <= t <= last[k]:
                        u, p = worst_nb(st, k, candles[k, t, 3], candles[k, t, 2])
                    else:
                        u, p = worst_nb(st, k, lastp[k], lastp[k])
                    worst += u
                    br = brackets[k, :n_br[k]]
                    mm += maintenance_margin_nb(sk[0].psize, p, br, mmr_add[k]) \
                        + maintenance_margin_nb(sk[1].psize, p, br, mmr_add[k])
            if worst <= mm:
                liquidate = True
                for k in range(S):
                    sk = st[k]
                    if sk[0].psize > 0.0 or sk[1].psize > 0.0:
                        if first[k] <= t <= last[k]:
                            _, p = worst_nb(st, k, candles[k, t, 3], candles[k, t, 2])
                        else:
                            p = lastp[k]
                        rows, rsym, balance, _ = settle_all_nb(
                            rows, rsym, cnt, ssum, asum, st, k, liquidation_book_nb(sk, p),
                            taker_fee, balance, market[k, M_QTY_STEP], t, ts, lastp, S)
            elif worst > 0.0:
                dist = (worst - mm) / worst
                if dist < asum[S_CLOSEST_LIQ]:
                    asum[S_CLOSEST_LIQ] = dist
        if t >= t_start:
            t_end = t
        if liquidate:
            balance = end_in_liquidation_nb(rows, cnt, asum, balance)
            liq, liq_dir = 0.0, 0
            for k in range(S):  # the last sample shows this minute's closes
                if start[k] < t <= last[k]:
                    lastp[k] = candles[k, t, 4]
            break
        if t < t_start:
            continue
        if unstuck is not None:
            if balance > peak_balance:
                peak_balance = balance
        # 3. drawdown from the account's worst equity in this minute
        worst = balance
        close_equity = balance
        for k in range(S):
            psl, ppl, pss, pps = st[k, 0].psize, st[k, 0].pprice, st[k, 1].psize, st[k, 1].pprice
            if psl > 0.0 or pss > 0.0 or S == 1:
                if first[k] <= t <= last[k] and t > start[k]:
                    low, high, close = candles[k, t, 3], candles[k, t, 2], candles[k, t, 4]
                else:
                    low, high, close = lastp[k], lastp[k], lastp[k]
                worst = worst + psl * (low - ppl) - pss * (high - pps)
                close_equity = close_equity + psl * (close - ppl) - pss * (close - pps)
        if t > t_start:
            if worst < dd_floor:
                dd_floor = worst
                asum[S_MAX_DRAWDOWN] = (peak - worst) / peak
            if close_equity > peak:
                peak = close_equity
                dd_floor = peak * (1.0 - asum[S_MAX_DRAWDOWN])
            if stop_params is not None:  # on the account's equity at the close
                decision, stop_until, peak_eq = equity_stop_nb(
                    close_equity, peak_eq, stop_until, np.int64(ts) + MINUTE_MS, stop_params)
                if decision == STOP_FIRE:
                    asum[S_STOPS] += 1.0
                    stop_pending = n_hold > 0
        # selection: which flat symbols may open, per side (from candles and positions; a
        # flat side it enables gets its initial entry from this minute's EMAs below)
        resel = selecting and (t - t_start) % sel_every == 0
        if resel:
            for k in range(S):
                eligible[k] = start[k] <= t <= last[k]
                scores[k] = score_nb(candles[k], max(first[k], t + 1 - sel_window), t + 1) \
                    if eligible[k] else np.nan
            for j in range(2):
                if n_pos[j] >= S:
                    continue
                for k in range(S):
                    is_open[k] = st[k, j].psize > 0.0
                allowed[:] = select_nb(scores, eligible, is_open, n_pos[j])
                for k in range(S):
                    en = params[k, j, P_ENABLED] if allowed[k] else 0.0
                    if en != wp[k, j, P_ENABLED]:
                        wp[k, j, P_ENABLED] = en
                        st[k, j].enabled = en
                        if t >= start[k] and st[k, j].psize <= 0.0:
                            refresh_side_nb(j, st[k], ent[k], cls[k], balance, lastp[k],
                                            wp[k, j], market[k], False, recompute_every_candle)
        # 4. EMAs and last price on the close, 5. the orders resting at the next open (symbols
        # trading this minute)
        for k in range(S):
            if t <= start[k] or t > last[k]:
                continue
            c = candles[k, t, 4]
            lastp[k] = c
            mk = market[k]
            moved_other = n_changed > (1 if changed_k[k] else 0)
            for j in range(2):
                side = 1 - 2 * j
                s = st[k, j]
                s.ema0 = ema_update_nb(s.ema0, c, s.alpha0)
                s.ema1 = ema_update_nb(s.ema1, c, s.alpha1)
                if filled_k[k] or recompute_every_candle:
                    stale = True
                elif s.psize > 0.0:
                    # as the one-symbol engine: written out on the record's fields (why: there)
                    current = closes_current_nb(side, s.l_cls, s.cls_limit,
                                                close_cap_price_nb(c, side, mk)) \
                        and entries_uncapped_nb(side, s.l_ent, s.ent_cap,
                                                entry_cap_price_nb(c, side, mk))
                    stale = funded_k[k] or moved_other or not current
                else:
                    stale = False
                    if s.enabled != 0.0:
                        s.init_price = initial_entry_price_nb(
                            side, min(s.ema0, s.ema1), max(s.ema0, s.ema1),
                            entry_cap_price_nb(c, side, mk), wp[k, j], mk)
                if stale:
                    refresh_side_nb(j, st[k], ent[k], cls[k], balance, c, wp[k, j], mk,
                                    filled_k[k], recompute_every_candle,
                                    funded_k[k] or moved_other)
                if unstuck is not None:
                    if s.psize > 0.0 and balance > 0.0 and unstuck[k, j, U_THRESHOLD] > 0.0:
                        pj = wp[k, j]
                        # the kernel's own exposure test: above it the close follows the EMAs
                        if (s.psize * s.pprice / balance
                                > unstuck[k, j, U_THRESHOLD] * pj[P_WALLET_EXPOSURE_LIMIT]):
                            closes, _ = closes_with_unstuck_nb(
                                side, balance, s.psize, s.pprice, min(s.ema0, s.ema1),
                                max(s.ema0, s.ema1), c, pj, unstuck[k, j], mk, peak_balance,
                                ssum[k, S_UNSTUCK_LOSS_LONG + j], maker_fee)
                            set_closes_nb(j, st[k], cls[k], closes, c)
            if stop_params is not None:
                if not entries_allowed_nb(stop_until, np.int64(ts) + MINUTE_MS):
                    cancel_orders_nb(st, k, stop_pending)
        if seeding_or_funding:
            for k in range(S):
                funded_k[k] = False
        if t == t_start or ((t - t_start) % EQUITY_EVERY == 0 and t != T - 1):
            sample_nb(eq, seq_, cnt, t, ts, balance, st, lastp, liq, S)
    return rows, rsym, balance, liq, t_end, peak_balance
