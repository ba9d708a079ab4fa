"""The multi-symbol backtest: one symbol = the one-symbol engine bit for bit; several symbols on
one wallet: the shared exposure limit holds, the books balance, spans and liquidation."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from passivbot.backtest.engine import run_backtest
from passivbot.backtest.multi import SymbolInput, as_engine_equity, run_multi_backtest
from passivbot.backtest.multi_nb import SE_PRICE, SE_PSIZE_LONG, SE_PSIZE_SHORT
from passivbot.backtest.multi_runner import backtest_multi_config, multi_inputs, summary_lines
from passivbot.backtest.runner import engine_kwargs, load_backtest_funding
from passivbot.config import load_backtest_config, load_live_config, side_params
from passivbot.config.multi import load_multi_config, multi_config_from_dict
from passivbot.data.bundled import load_bundled
from passivbot.markets import market_spec
from passivbot.backtest.account import (
    S_LIQUIDATED, S_PEAK_BALANCE, S_STOPS, S_UNSTUCK_LOSS_LONG,
)
from passivbot.records import (
    KIND_FUNDING, KIND_INITIAL_ENTRY, KIND_LIQUIDATION, KIND_REENTRY, KIND_STOP_CLOSE,
    KIND_UNSTUCK_CLOSE,
)

ROOT = Path(__file__).resolve().parents[1]
DAY = 1440
SIX = ("ETHUSDT", "BTCUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT", "LTCUSDT")


def bt_cfg():
    return load_backtest_config(ROOT / "backtest_configs" / "demo.json")


def multi_dict(symbols, n_positions, total, leverage=7, **side):
    d = load_multi_config(ROOT / "live_settings" / "multi-example.json")
    base = {k: getattr(d.configs[d.symbols[0]].long, k) for k in
            ("enabled", "ema_span_0", "ema_span_1", "initial_qty_pct", "ddown_factor",
             "rentry_pprice_dist", "rentry_pprice_dist_wallet_exposure_weighting",
             "min_markup", "markup_range", "n_close_orders")}
    base.update(side)
    return {"symbols": list(symbols), "n_positions": n_positions, "leverage": leverage,
            "total_wallet_exposure_limit": {"long": total, "short": total},
            "long": dict(base), "short": dict(base)}


def candles_for(symbols, days, offset_days=0):
    out = {}
    for s in symbols:
        c = load_bundled(s)
        out[s] = c[offset_days * DAY:(offset_days + days) * DAY]
    return out


def both_engines_on_eth(wel: float, unstuck=None, stop=None):
    """Bundled ETHUSDT, all of it, with funding, leverage 7 and the EMA warm-up, `default.json`
    at `wel` per side (with risk.U_* `unstuck` on both sides and risk.S_* `stop`): the
    one-symbol engine's (fills, equity, summary) and the multi replay's result of one symbol."""
    live = load_live_config(ROOT / "live_settings" / "default.json")
    live = replace(live, long=replace(live.long, wallet_exposure_limit=wel),
                   short=replace(live.short, wallet_exposure_limit=wel))
    bt = bt_cfg()
    c = load_bundled("ETHUSDT")
    spec = market_spec(bt.exchange, "ETHUSDT")
    funding = load_backtest_funding(bt, c)
    lp, sp = side_params(live.long), side_params(live.short)
    kw = engine_kwargs(lp, sp, live.leverage, len(c), funding)
    f1, e1, s1 = run_backtest(c, lp, sp, spec.market_array(), spec.brackets_array(), 1000.0,
                              bt.maker_fee, bt.taker_fee, spec.mmr_add, **kw, long_risk=unstuck,
                              short_risk=unstuck, stop_params=stop)
    x = SymbolInput("ETHUSDT", c, lp, sp, spec.market_array(), spec.brackets_array(),
                    spec.mmr_add, funding.times_ms, funding.rates, funding.mark, kw["warmup"],
                    unstuck, unstuck)
    r = run_multi_backtest([x], 1000.0, bt.maker_fee, bt.taker_fee, leverage=live.leverage,
                           stop_params=stop)
    return (f1, e1, s1), r, funding


def assert_bit_identical(one, r) -> None:
    f1, e1, s1 = one
    assert f1.dtype == r.fills.dtype and len(f1) == len(r.fills)
    for name in f1.dtype.names:  # field by field (the record's padding bytes are not data)
        assert np.array_equal(f1[name], r.fills[name]), name
    assert s1.tobytes() == r.summary.tobytes()
    assert np.array_equal(e1, as_engine_equity(r), equal_nan=True)


@pytest.mark.parametrize("wel", [0.5, 3.5])
def test_one_symbol_is_bit_identical_to_the_one_symbol_engine(wel):
    """3.5 + 3.5 is the high-exposure config that ends in a liquidation."""
    one, r, funding = both_engines_on_eth(wel)
    f1, _, s1 = one
    assert len(f1) > 50 and len(funding.times_ms) > 100
    assert (s1[S_LIQUIDATED] == 1.0) == (wel == 3.5)  # both paths are covered
    assert_bit_identical(one, r)
    assert (r.fill_symbol == 0).all()


def exposures_at_fills(r, n_sym):
    """Per fill row: the sum of the symbols' exposures per side and the open symbols per side,
    from the rows' position after each fill and the balance after it."""
    pos = np.zeros((n_sym, 2, 2))  # symbol, side, (psize, pprice)
    sums, opens = [], []
    for row, k in zip(r.fills, r.fill_symbol):
        j = 0 if row["side"] == 1 else 1
        pos[k, j] = row["psize"], row["pprice"]
        bal = row["balance"]
        sums.append([(pos[:, s, 0] * pos[:, s, 1]).sum() / bal for s in (0, 1)])
        opens.append([(pos[:, s, 0] > 0).sum() for s in (0, 1)])
    return np.array(sums), np.array(opens)


def test_shared_limit_binds_and_the_sum_of_exposures_never_exceeds_it():
    total = 1.0
    cfg = multi_config_from_dict(multi_dict(SIX, 2, total, ddown_factor=1.5,
                                            rentry_pprice_dist=0.005), "t.json")
    out = backtest_multi_config(cfg, bt_cfg(), candles_for(SIX, 20), funding=False)
    r = out.result
    sums, opens = exposures_at_fills(r, len(SIX))
    assert len(r.fills) > 200
    assert sums.max() <= total * (1 + 1e-4)  # rounding of a qty step at most
    assert sums.max() >= 0.95 * total  # it binds: the budget is used up
    assert opens.max() == 2 and (opens <= 2).all()  # never more than n_positions per side
    # every symbol's own limit is the shared one / n_positions
    for s in out.stats["symbols"].values():
        assert s["max_wallet_exposure_long"] <= total / 2 * (1 + 1e-4)
    assert out.stats["account"]["max_wallet_exposure_long"] <= total * (1 + 1e-4)
    # the selection rotated: more than 2 symbols traded over the 20 days, not all six at once
    traded = [k for k, s in out.stats["symbols"].items() if s["n_fills"] > 0]
    assert 2 < len(traded)


def test_four_symbols_share_one_wallet_and_the_books_balance():
    syms = SIX[:4]
    cfg = multi_config_from_dict(multi_dict(syms, 4, 1.2), "t.json")
    out = backtest_multi_config(cfg, bt_cfg(), candles_for(syms, 4))
    r, acc = out.result, out.stats["account"]
    f = r.fills
    assert set(np.unique(r.fill_symbol)) == {0, 1, 2, 3}  # every symbol traded
    # one balance: each row's balance is the previous row's plus its pnl minus its fee
    bal = 1000.0 + np.cumsum(f["pnl"] - f["fee"])
    assert np.allclose(f["balance"], bal, rtol=0, atol=1e-9)
    assert np.all(np.diff(f["minute"]) >= 0)  # settlement order = time order
    assert sum(s["n_fills"] for s in out.stats["symbols"].values()) == acc["n_fills"]
    assert acc["final_balance"] == f["balance"][-1]
    assert (f["kind"] == KIND_FUNDING).any()  # each symbol's own funding was charged
    for k in range(4):  # nothing trades during a symbol's warm-up
        w = multi_inputs(cfg, bt_cfg(), candles_for(syms, 4))[k].warmup
        mine = f[(r.fill_symbol == k) & (f["kind"] != KIND_FUNDING)]
        assert mine["minute"].min() > r.first[k] + w


def test_markets_that_start_late_and_end_early():
    syms = SIX[:3]
    c = candles_for(syms, 6)
    c["BTCUSDT"] = c["BTCUSDT"][2 * DAY:]  # lists two days later
    c["SOLUSDT"] = c["SOLUSDT"][: 3 * DAY]  # its data ends after three days
    cfg = multi_config_from_dict(multi_dict(syms, 3, 1.5), "t.json")
    out = backtest_multi_config(cfg, bt_cfg(), c, funding=False)
    r = out.result
    assert r.first.tolist() == [0, 2 * DAY, 0]
    assert r.last.tolist() == [6 * DAY - 1, 6 * DAY - 1, 3 * DAY - 1]
    for k in range(3):
        m = r.fills["minute"][r.fill_symbol == k]
        assert len(m) and m.min() > r.first[k] and m.max() <= r.last[k]
    # after its end SOLUSDT's positions stay as they were, marked at its last close
    ts_end = c["SOLUSDT"][-1, 0]
    after = r.equity[:, 0] > ts_end
    se = r.symbol_equity[after, 2]
    assert after.any() and (se[:, SE_PRICE] == c["SOLUSDT"][-1, 4]).all()
    assert (se[:, SE_PSIZE_LONG] == se[0, SE_PSIZE_LONG]).all()
    assert (se[:, SE_PSIZE_SHORT] == se[0, SE_PSIZE_SHORT]).all()


def test_account_liquidation_with_several_holders_leaves_balance_zero():
    """Six symbols at 1.5 x the balance per side each (9 per side: more than the validator
    allows, the kernel must still settle it): the account is liquidated as a whole."""
    cfg = multi_config_from_dict(multi_dict(SIX, 6, 3.5, leverage=7), "t.json")
    ins = multi_inputs(cfg, bt_cfg(), candles_for(SIX, 14), funding=False)
    for x in ins:
        x.long_params[1] = x.short_params[1] = 1.5  # P_WALLET_EXPOSURE_LIMIT
    r = run_multi_backtest(ins, 1000.0, 0.0002, 0.0005, leverage=7)
    kind = r.fills["kind"]
    liq = r.fills[kind == KIND_LIQUIDATION]
    assert r.summary[S_LIQUIDATED] == 1.0
    assert len(np.unique(r.fill_symbol[kind == KIND_LIQUIDATION])) >= 2
    assert len(np.unique(liq["minute"])) == 1 and liq["minute"][0] == r.fills["minute"].max()
    assert r.fills["balance"][-1] == 0.0 and (r.fills["balance"] >= 0.0).all()
    assert r.equity[-1, 1] == 0.0
    # nothing is left open: every symbol's last row is flat on both sides
    for k in range(len(SIX)):
        mine = r.fills[r.fill_symbol == k]
        for side in (1, -1):
            rows = mine[mine["side"] == side]
            assert len(rows) == 0 or rows["psize"][-1] == 0.0


UNSTUCK = np.array([0.5, 0.1, 0.01, 0.02])  # risk.U_*: threshold, close pct, ema dist, allowance
STOP = np.array([0.04, 600.0])  # risk.S_*: drawdown, cool-down minutes


def test_one_symbol_with_bounded_loss_is_bit_identical_to_the_one_symbol_engine():
    """Auto-unstuck and the equity stop on (both fire on bundled ETHUSDT at 1.0 per side, stop
    at 8 %): one symbol on the multi replay is the one-symbol engine, row for row, summary
    byte for byte."""
    one, r, _ = both_engines_on_eth(1.0, UNSTUCK, np.array([0.08, 600.0]))
    f1, _, s1 = one
    assert s1[S_STOPS] >= 1 and (f1["kind"] == KIND_UNSTUCK_CLOSE).sum() >= 5
    assert (f1["kind"] == KIND_STOP_CLOSE).any()
    assert_bit_identical(one, r)


def test_equity_stop_on_account_equity_closes_every_symbol_and_pauses_entries():
    syms = SIX[:4]
    cfg = multi_config_from_dict(multi_dict(syms, 4, 2.0), "t.json")
    ins = multi_inputs(cfg, bt_cfg(), candles_for(syms, 14))
    r = run_multi_backtest(ins, 1000.0, 0.0002, 0.0005, leverage=7, stop_params=STOP)
    f = r.fills
    stops = f["kind"] == KIND_STOP_CLOSE
    assert r.summary[S_STOPS] >= 1 and stops.any()
    entries = np.isin(f["kind"], (KIND_INITIAL_ENTRY, KIND_REENTRY))
    for m in np.unique(f["minute"][stops]):
        before = f[f["minute"] < m]
        held = {int(k) for k in np.unique(r.fill_symbol[f["minute"] < m])
                if _open_after(before[r.fill_symbol[f["minute"] < m] == k])}
        closed = set(r.fill_symbol[stops & (f["minute"] == m)].tolist())
        assert held and closed == held  # every symbol holding a position closes at once
        rows = f[stops & (f["minute"] == m)]
        assert np.allclose(rows["fee"], rows["qty"] * rows["price"] * 0.0005, rtol=1e-12)
        assert (rows["psize"] == 0.0).all()
        # no entry of any symbol during the cool-down (600 minutes from the close)
        assert not (entries & (f["minute"] >= m) & (f["minute"] < m + 600)).any()
    # the equity stop is the account's: with it off the same inputs never stop
    r0 = run_multi_backtest(ins, 1000.0, 0.0002, 0.0005, leverage=7)
    assert r0.summary[S_STOPS] == 0 and not (r0.fills["kind"] == KIND_STOP_CLOSE).any()


def _open_after(rows) -> bool:
    """Whether a symbol's rows (in order) leave a position open on either side."""
    for side in (1, -1):
        s = rows[rows["side"] == side]
        if len(s) and s["psize"][-1] > 0.0:
            return True
    return False


def test_auto_unstuck_per_symbol_within_each_symbols_allowance():
    syms = SIX[:4]
    cfg = multi_config_from_dict(multi_dict(syms, 4, 2.0, ddown_factor=1.5), "t.json")
    ins = [replace(x, long_risk=UNSTUCK, short_risk=UNSTUCK)
           for x in multi_inputs(cfg, bt_cfg(), candles_for(syms, 20))]
    r = run_multi_backtest(ins, 1000.0, 0.0002, 0.0005, leverage=7)
    f = r.fills
    un = f["kind"] == KIND_UNSTUCK_CLOSE
    assert len(np.unique(r.fill_symbol[un])) >= 2  # several symbols were unstuck
    peak = r.summary[S_PEAK_BALANCE]
    assert peak >= 1000.0 and peak >= f["balance"].max() - 1e-9
    for k in range(len(syms)):
        for j, side in enumerate((1, -1)):
            mine = f[un & (r.fill_symbol == k) & (f["side"] == side)]
            loss = float(np.maximum(0.0, mine["fee"] - mine["pnl"]).sum())
            assert r.symbol_summary[k, S_UNSTUCK_LOSS_LONG + j] == pytest.approx(loss, abs=1e-9)
            assert loss <= UNSTUCK[3] * peak * (1 + 1e-9)  # each symbol side's own allowance
    assert r.summary[S_UNSTUCK_LOSS_LONG] == pytest.approx(
        r.symbol_summary[:, S_UNSTUCK_LOSS_LONG].sum(), abs=1e-9)
    # a multi-symbol config with the keys on is backtested with them (no longer refused)
    d = multi_dict(SIX[:2], 2, 1.0)
    d["long"].update(unstuck_threshold=0.5, unstuck_close_pct=0.05,
                     unstuck_loss_allowance_pct=0.01)
    d["equity_stop_drawdown"] = 0.2
    out = backtest_multi_config(multi_config_from_dict(d, "t.json"), bt_cfg(),
                                candles_for(SIX[:2], 2), funding=False)
    assert out.stats["account"]["n_equity_stops"] == 0.0
    assert "bounded loss: " in "\n".join(summary_lines(out))


def test_the_backtest_opens_what_the_selection_kernel_chooses():
    """n_positions 1, long only: the first position opens on the symbol with the best
    selection.score_nb at the last selection before it (every 60 minutes from the first
    trading minute, over the last 1440 candles)."""
    from passivbot.selection import score_nb

    syms = SIX
    d = multi_dict(syms, 1, 0.5)
    d["short"]["enabled"] = False
    cfg = multi_config_from_dict(d, "t.json")
    out = backtest_multi_config(cfg, bt_cfg(), candles_for(syms, 5), funding=False)
    r = out.result
    m = int(r.fills["minute"][0])
    k_open = int(r.fill_symbol[0])
    t_start = int(r.summary[11])  # S_WARMUP: the account's first trading minute
    t_sel = t_start + 60 * ((m - 1 - t_start) // 60)
    c = candles_for(syms, 5)
    scores = []
    for k, s in enumerate(syms):
        a = int(r.first[k])
        rows = c[s]  # row i of the symbol = axis minute a + i
        lo = max(0, t_sel + 1 - 1440 - a)
        scores.append(score_nb(rows, lo, t_sel + 1 - a))
    assert k_open == int(np.argmax(scores))
    # never two longs at once, and the slot rotates when the position closes
    _, opens = exposures_at_fills(r, len(syms))
    assert (opens[:, 0] <= 1).all()


def test_cached_books_equal_recomputed_every_minute_with_several_symbols():
    """A fill or funding on one symbol moves the balance every other grid is sized from: the
    cache must follow it (refreshing as after a funding payment). Reference: ideal_orders_nb
    every minute for every symbol (recompute_every_candle)."""
    syms = SIX[:4]
    cfg = multi_config_from_dict(multi_dict(syms, 3, 1.5, ddown_factor=1.2), "t.json")
    ins = multi_inputs(cfg, bt_cfg(), candles_for(syms, 8))
    runs = [run_multi_backtest(ins, 1000.0, 0.0002, 0.0005, leverage=7, n_positions=(3, 3),
                               recompute_every_candle=every) for every in (False, True)]
    a, b = runs
    assert len(a.fills) > 100 and len(np.unique(a.fill_symbol)) >= 3
    for name in a.fills.dtype.names:
        assert np.array_equal(a.fills[name], b.fills[name]), name
    assert np.array_equal(a.fill_symbol, b.fill_symbol)
    assert np.array_equal(a.summary, b.summary)


def test_borrowed_views_alias_their_array_in_jitted_code():
    """passivbot.backtest.borrow: a borrowed view reads and writes the caller's memory, rows
    of it too (what the multi-symbol replay's hot loop does with market[k], st[k], ...)."""
    from numba import njit

    from passivbot.backtest.borrow import borrowed_view

    @njit
    def bump_rows(a):
        b = borrowed_view(a)
        total = 0.0
        for k in range(b.shape[0]):
            row = b[k]
            row[1] += k
            total += row.sum()
        return total, b.shape[0], b.shape[1]

    a = np.arange(12.0).reshape(4, 3)
    want = a.copy()
    want[:, 1] += np.arange(4)
    total, n, m = bump_rows(a)
    assert (n, m) == (4, 3)
    assert np.array_equal(a, want) and total == want.sum()
