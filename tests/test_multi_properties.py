"""Properties of the multi-symbol replay over random walks (hypothesis): one symbol is the
one-symbol engine bit for bit, with any parameters, leverage, funding and bounded-loss rules;
several symbols on one wallet keep the books, the shared limit, n_positions, their spans, and
the cached books equal the books recomputed every minute."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from passivbot.backtest.engine import run_backtest
from passivbot.backtest.multi import SymbolInput, as_engine_equity, run_multi_backtest
from passivbot.fills import is_buy_nb, market_price_nb
from passivbot.records import (
    KIND_FUNDING, KIND_INITIAL_ENTRY, KIND_LIQUIDATION, KIND_REENTRY, KIND_STOP_CLOSE, M_QTY_STEP,
)
from tests.backtest_helpers import ETH, ETH_BRACKETS, make_params, random_walk_candles

MAKER, TAKER = 0.0002, 0.0005

sides = st.builds(
    lambda wel, span0, span1, dist, ddown, rdist, markup: make_params(
        wallet_exposure_limit=wel, ema_span_0=span0, ema_span_1=span1,
        initial_eprice_ema_dist=dist, ddown_factor=ddown, rentry_pprice_dist=rdist,
        min_markup=markup),
    st.floats(0.1, 3.0), st.floats(2.0, 200.0), st.floats(2.0, 400.0), st.floats(-0.002, 0.01),
    st.floats(0.3, 2.0), st.floats(0.002, 0.03), st.floats(0.001, 0.01))
risk = st.one_of(st.none(), st.builds(lambda t, c, d, a: np.array([t, c, d, a]),
                                      st.floats(0.2, 0.9), st.floats(0.05, 0.5),
                                      st.floats(0.0, 0.02), st.floats(0.001, 0.05)))
stops = st.one_of(st.none(), st.builds(lambda d, m: np.array([d, m]), st.floats(0.01, 0.1),
                                       st.sampled_from([0.0, 30.0, 600.0])))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), vol=st.floats(0.0005, 0.004), lp=sides, sp=sides,
       leverage=st.sampled_from([np.inf, 2.0, 10.0]), funding_every=st.sampled_from([0, 97, 480]),
       warmup=st.integers(0, 300), ur=risk, stop=stops)
def test_one_symbol_is_the_one_symbol_engine(seed, vol, lp, sp, leverage, funding_every, warmup,
                                             ur, stop):
    c = random_walk_candles(1500, seed, vol=vol)
    ft = c[5::funding_every, 0].astype(np.int64) if funding_every else np.zeros(0, np.int64)
    fr = np.random.default_rng(seed).normal(0.0, 0.001, len(ft))
    fm = np.full(len(ft), np.nan)
    f1, e1, s1 = run_backtest(c, lp, sp, ETH, ETH_BRACKETS, 1000.0, MAKER, TAKER,
                              leverage=leverage, funding_times=ft, funding_rates=fr,
                              funding_marks=fm, warmup=warmup, long_risk=ur, short_risk=ur,
                              stop_params=stop)
    x = SymbolInput("X", c, lp, sp, ETH, ETH_BRACKETS, 0.0, ft, fr, fm, warmup, ur, ur)
    r = run_multi_backtest([x], 1000.0, MAKER, TAKER, leverage=leverage, stop_params=stop)
    assert len(f1) == len(r.fills)
    for name in f1.dtype.names:
        assert np.array_equal(f1[name], r.fills[name]), name
    assert s1.tobytes() == r.summary.tobytes()
    assert np.array_equal(e1, as_engine_equity(r), equal_nan=True)


def _walks(seed: int, lengths, offsets, vol: float):
    """Random walks of the given lengths starting `offsets` minutes after a common t0."""
    out = []
    for k, (n, o) in enumerate(zip(lengths, offsets)):
        c = random_walk_candles(n, seed + k, start=(2000.0, 1500.0, 300.0)[k % 3], vol=vol)
        c[:, 0] += o * 60_000.0
        out.append(c)
    return out


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), vol=st.floats(0.0005, 0.003),
       lengths=st.lists(st.integers(400, 1200), min_size=3, max_size=3),
       offsets=st.lists(st.integers(0, 300), min_size=3, max_size=3),
       total=st.floats(0.3, 3.0), n_pos=st.integers(1, 3), ddown=st.floats(0.5, 2.0),
       leverage=st.sampled_from([np.inf, 5.0]), ur=risk, stop=stops)
def test_several_symbols_keep_the_books_and_the_shared_limit(seed, vol, lengths, offsets, total,
                                                             n_pos, ddown, leverage, ur, stop):
    wel = total / n_pos
    p = make_params(wallet_exposure_limit=wel, ema_span_0=20.0, ema_span_1=60.0,
                    ddown_factor=ddown, rentry_pprice_dist=0.005)
    walks = _walks(seed, lengths, offsets, vol)
    ins = [SymbolInput(f"S{k}", c, p, p, ETH, ETH_BRACKETS, 0.0, warmup=60 + 10 * k,
                       long_risk=ur, short_risk=ur) for k, c in enumerate(walks)]
    kw = dict(leverage=leverage, n_positions=(n_pos, n_pos), select_every=30,
              select_window=120, stop_params=stop)
    r = run_multi_backtest(ins, 1000.0, MAKER, TAKER, **kw)
    f = r.fills
    # one balance: each row moves it by its pnl minus its fee, and it never goes negative
    np.testing.assert_allclose(f["balance"], 1000.0 + np.cumsum(f["pnl"] - f["fee"]),
                               rtol=1e-9, atol=1e-9)
    assert (f["balance"] >= 0.0).all() and (r.equity[:, 1] >= 0.0).all()
    assert np.all(np.diff(f["minute"]) >= 0)
    # each symbol trades inside its span, after its warm-up; after its data ends, only the
    # account's liquidation or equity stop closes it, at its last close
    for k, x in enumerate(ins):
        mine = f[r.fill_symbol == k]
        forced = np.isin(mine["kind"], (KIND_LIQUIDATION, KIND_STOP_CLOSE))
        m = mine["minute"][~forced]
        assert (m > r.first[k] + x.warmup).all() and (m <= r.last[k]).all()
        for row in mine[forced & (mine["minute"] > r.last[k])]:
            want = x.candles[-1, 4]
            if row["kind"] == KIND_STOP_CLOSE:  # a market order: one book width through it
                want = market_price_nb(is_buy_nb(int(row["side"]), KIND_STOP_CLOSE), want, ETH)
            assert row["price"] == want
    # the shared limit and n_positions: at every fill, each open symbol side costs at most
    # its share (total / n_positions) of the balance at its last entry, up to one qty step of
    # rounding (as the one-symbol grid; a later loss elsewhere may shrink the balance), and at
    # most n_positions symbols are open per side
    pos = np.zeros((3, 2, 2))
    entry_bal = np.zeros((3, 2))
    for row, k in zip(f, r.fill_symbol):
        if row["kind"] == KIND_FUNDING:
            continue
        j = 0 if row["side"] == 1 else 1
        pos[k, j] = row["psize"], row["pprice"]
        if row["kind"] in (KIND_INITIAL_ENTRY, KIND_REENTRY):
            entry_bal[k, j] = row["balance"] + row["fee"]  # the balance the grid was sized on
        for jj in (0, 1):
            cost = pos[:, jj, 0] * pos[:, jj, 1]
            step = ETH[M_QTY_STEP] * pos[:, jj, 1] * 1.01
            assert (cost <= wel * entry_bal[:, jj] * (1 + 1e-4) + step).all()
            assert cost.sum() <= total * entry_bal[:, jj].max() * (1 + 1e-4) + step.sum()
            assert (pos[:, jj, 0] > 0).sum() <= n_pos
    # the cached books are the books recomputed every minute
    e = run_multi_backtest(ins, 1000.0, MAKER, TAKER, recompute_every_candle=True, **kw)
    for name in f.dtype.names:
        assert np.array_equal(f[name], e.fills[name]), name
    assert np.array_equal(r.fill_symbol, e.fill_symbol)
    assert r.summary.tobytes() == e.summary.tobytes()
