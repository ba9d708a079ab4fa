"""What the trader sees, unit level: a fill's PnL, maker/taker and fee on the console line and
in the journal (hand-computed), the status line while disconnected and in paper mode, the
summary's positions and order prices, and the journal's resume point after a restart."""

import logging

import numpy as np

from passivbot.live.console import status_line
from passivbot.live.diff import OpenOrder
from passivbot.live.state import MINUTE_MS, BotState
from passivbot.live.view import LiveView, resume_point
from passivbot.markets import market_spec
from passivbot.records import LONG, N_PARAMS, SHORT
from passivbot.report.journal import JournalWriter, read_journal

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC


def make_view(caplog, tmp_path=None, liq=0.0):
    st = BotState(params=np.zeros((2, N_PARAMS)))
    st.balance, st.last_price, st.exchange_time = 1000.0, 100.0, T0
    log = logging.getLogger("test.view")
    log.setLevel(logging.INFO)
    caplog.set_level(logging.INFO, logger="test.view")
    v = LiveView(st, log, "ETHUSDT", "binance", liq=lambda: liq)
    if tmp_path is not None:
        v.journal = JournalWriter(tmp_path / "j.journal")
        v.resync(force=True)
        v.started(T0)
    return st, v


def trade(tid, side, qty, price, fee, maker=True, ts=T0):
    return {"id": tid, "order": f"o{tid}", "symbol": "ETH/USDT:USDT", "side": side,
            "amount": qty, "price": price, "fee": {"cost": fee, "currency": "USDT"},
            "takerOrMaker": "maker" if maker else "taker", "timestamp": ts}


def test_fills_show_pnl_maker_taker_fee_and_session_total_and_are_journalled(caplog, tmp_path):
    st, v = make_view(caplog, tmp_path)
    v.on_trade(trade(1, "buy", 1.0, 100.0, 0.02), LONG, True)
    v.on_trade(trade(2, "buy", 1.0, 90.0, 0.018), LONG, True)
    v.on_trade(trade(2, "buy", 1.0, 90.0, 0.018), LONG, True)  # the same trade twice: once
    v.on_trade(trade(3, "sell", 1.5, 100.0, 0.075, maker=False), LONG, False)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("FILL")]
    assert lines == [
        "FILL long entry 1 @ 100 maker fee 0.0200 pnl +0.0000 | session pnl -0.0200",
        "FILL long entry 1 @ 90 maker fee 0.0180 pnl +0.0000 | session pnl -0.0380",
        # entry price (100 + 90) / 2 = 95; 1.5 x (100 - 95) = 7.5; 7.5 - 0.113 fees = 7.387
        "FILL long close 1.5 @ 100 TAKER fee 0.0750 pnl +7.5000 | session pnl +7.3870",
    ]
    v.journal.close()
    fills = read_journal(tmp_path / "j.journal")["fill"]
    assert [f["kind"] for f in fills] == ["initial_entry", "reentry", "close"]
    assert [f["maker"] for f in fills] == [True, True, False]
    assert fills[1]["pprice"] == 95.0 and fills[2]["psize"] == 0.5 and fills[2]["pnl"] == 7.5
    assert abs(fills[2]["balance"] - (1000 - 0.02 - 0.018 + 7.5 - 0.075)) < 1e-9
    assert v.maker_fills == 2 and v.taker_fills == 1


def test_short_close_pnl_is_entry_minus_price():
    st = BotState(params=np.zeros((2, N_PARAMS)))
    st.balance = 500.0
    v = LiveView(st, logging.getLogger("test.view2"), "ETHUSDT")
    v.resync(force=True)
    v.on_trade(trade(1, "sell", 2.0, 110.0, 0.0), SHORT, False)
    v.on_trade(trade(2, "buy", 2.0, 100.0, 0.0), SHORT, True)
    assert v.recorder.session_realized_pnl == 20.0 and v.psize == [0.0, 0.0]


def test_status_line_says_disconnected_since_instead_of_a_stale_price_and_market_time(caplog):
    st, v = make_view(caplog, liq=80.0)
    spec = market_spec("binance", "ETHUSDT")
    st.last_price_ts = T0 - 5_000
    st.last_closed_ts = T0 - 2 * MINUTE_MS  # market time = its end: 22:12 on 11-14
    st.set_position(LONG, 2.0, 100.0)
    st.remember_order(OpenOrder("1", "pb1", LONG, False, 1.0, 95.0))
    st.remember_order(OpenOrder("2", "pb2", LONG, True, 2.0, 101.0))
    v.mode = "paper"
    line = status_line(st, spec.brackets_array(), spec.mmr_add, v)
    assert line.startswith("market 11-14 22:12 | price 100 | L 2@100 we 0.200")
    assert "liq 80 (20.0% away)" in line and "orders L buy 95 sell 101 S -" in line
    assert "balance 1000.00 equity 1000.00 upnl +0.00 realized +0.00" in line
    v.stream_down("ticker")
    assert "DISCONNECTED since 22:13:20 UTC (stream ticker)" in caplog.text
    line = status_line(st, spec.brackets_array(), spec.mmr_add, v)
    assert "price 100 |" not in line
    assert "DISCONNECTED since 22:13:20 (last price 100 at 22:13:15)" in line
    v.stream_down("candles")
    st.exchange_time = T0 + 42_000
    v.stream_up("ticker")
    assert v.disconnected_since is not None  # candles still down
    v.stream_up("candles")
    assert v.disconnected_since is None and "reconnected after 42 s" in caplog.text


def test_summary_lists_equity_positions_with_liquidation_distance_and_every_order(caplog):
    st, v = make_view(caplog, liq=50.0)
    v.started(T0 - 3_600_000)
    st.set_position(SHORT, 1.0, 110.0)  # last price 100: upnl +10
    st.remember_order(OpenOrder("1", "pb1", SHORT, False, 1.0, 120.0))
    st.remember_order(OpenOrder("2", "pb2", SHORT, True, 1.0, 104.5))
    lines = v.summary_lines("every 15 min")
    text = "\n".join(lines)
    assert "session 1.0 h (market time)" in lines[0]
    assert "balance 1000.00 USDT, equity 1010.00 (+1.000% since start), unrealized +10.00" \
        in text
    assert "  long: flat" in lines and \
        "  short: 1 @ 110, exposure 0.110, upnl +10.00, liq 50 (50.0% away)" in lines
    assert lines[-2:] == ["  order short entry sell 1 @ 120", "  order short close buy 1 @ 104.5"]


def test_resume_point_is_after_the_journal_with_its_last_positions(tmp_path):
    assert resume_point(tmp_path / "none.journal") is None
    j = JournalWriter(tmp_path / "a.journal")
    j.session(T0, "binance", "ETHUSDT", "paper", 1000.0, 0.0002, 0.0005, {})
    j.equity(T0 + 60_000, 1000.0, 1001.0, 101.0, 1.0, 100.0, 0.5, 105.0)
    j.fill(T0 + 90_000, "long", "reentry", 1.0, 98.0, 0.01, 0.0, 2.0, 99.0, 999.99, True)
    j.close()
    since, psize, pprice, bal = resume_point(tmp_path / "a.journal")
    assert since == T0 + 90_001 and psize == [2.0, 0.5] and pprice == [99.0, 105.0]
    assert bal == 999.99


def test_status_line_shows_the_nearest_orders_and_how_many_rest_behind(caplog):
    st, v = make_view(caplog)
    for i, px in enumerate((95.0, 90.0, 85.0)):
        st.remember_order(OpenOrder(str(i), f"pb{i}", LONG, False, 1.0, px))
    st.remember_order(OpenOrder("9", "pb9", SHORT, False, 1.0, 104.0))
    spec = market_spec("binance", "ETHUSDT")
    line = status_line(st, spec.brackets_array(), spec.mmr_add, v)
    assert "orders L buy 95 (+2) S sell 104 |" in line


def test_a_failing_fill_report_never_stops_the_account_refresh(caplog):
    from passivbot.exchanges.errors import Redactor
    from passivbot.live.sync import StateSync

    class Adapter:
        symbol = "ETH/USDT:USDT"

        def order_side(self, t):
            return LONG

    def boom(*a):
        raise OSError(28, "No space left on device")  # e.g. the journal's disk is full

    seen = []
    log = logging.getLogger("test.view.sync")
    caplog.set_level(logging.INFO, logger="test.view.sync")
    sync = StateSync(Adapter(), BotState(params=np.zeros((2, N_PARAMS))), None, log,
                     Redactor(), seen.append)
    sync.on_fill = boom
    sync.on_trades([trade(1, "buy", 1.0, 100.0, 0.02)])
    assert sync.need_account and seen == ["account"]
    assert "reporting a fill failed" in caplog.text


def test_only_a_paper_bot_stops_for_a_vanished_exchange():
    from passivbot.live.view import PAPER_GONE_S

    calls = []
    for mode in ("paper", "live", "testnet"):
        v = LiveView(BotState(params=np.zeros((2, N_PARAMS))), logging.getLogger("gone"), "ETHUSDT")
        v.mode, v.on_gone = mode, calls.append
        v.stream_down("ticker")
        t0 = v._down_wall
        assert not v.check_gone(t0 + PAPER_GONE_S - 1)
        assert v.check_gone(t0 + PAPER_GONE_S) == (mode == "paper")
        assert not v.check_gone(t0 + 2 * PAPER_GONE_S)  # once
        v.stream_up("ticker")
    assert len(calls) == 1 and "unreachable for 30 s" in calls[0]
    v = LiveView(BotState(params=np.zeros((2, N_PARAMS))), logging.getLogger("gone"), "ETHUSDT")
    v.mode, v.on_gone = "paper", calls.append
    v.stream_down("ticker")
    v.stream_up("ticker")  # back in time: nothing
    assert not v.check_gone(10 ** 9)


def test_summary_shows_the_equity_stop_and_unstuck_loss_used_of_the_allowance(caplog):
    import dataclasses

    from passivbot.config import load_live_config
    from passivbot.live.bounded_loss import BoundedLoss

    base = load_live_config("ETH-J1")
    cfg = dataclasses.replace(
        base, equity_stop_drawdown=0.1,
        long=dataclasses.replace(base.long, unstuck_threshold=0.5,
                                 unstuck_loss_allowance_pct=0.02))
    st, v = make_view(caplog)
    bl = BoundedLoss(cfg, None, logging.getLogger("t"), 0.0002)
    bl.st.peak_balance = 1000.0  # allowance 0.02 x 1000 = 20 on the long side, short off
    bl.st.unstuck_loss[0] = 1.25
    bl.st.stop_until_ms = T0 + 2 * 3_600_000 + 30 * 60_000  # 2023-11-15 00:43 UTC
    v.risk = bl
    st.set_position(LONG, 1.0, 110.0)
    v.resync(force=True)  # the view's ledger: long 1 @ 110
    v.on_trade(trade("u1", "sell", 0.5, 100.0, 0.01), LONG, buy=False)  # close at a loss
    v.on_trade(trade("u2", "sell", 0.1, 120.0, 0.01), LONG, buy=False)  # in profit: not one
    lines = v.summary_lines()
    assert ("  equity stop STOPPED until 2023-11-15 00:43 UTC; unstuck loss used/allowance "
            "long 1.25/20.00, short 0.00/0.00 (1 closes at a loss)") in lines
    v.risk = None
    assert not any("equity stop" in x for x in v.summary_lines())
