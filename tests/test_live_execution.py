"""The executor's error contract with a scripted adapter: idempotent retried creates,
insufficient margin skipped and logged once, unknown-order cancels reconciled, stop errors."""

import logging

import ccxt
import numpy as np
import pytest

from passivbot.exchanges import binance
from passivbot.exchanges.errors import Redactor, StopError
from passivbot.live.diff import OpenOrder, Plan, Wanted
from passivbot.live.execution import Executor
from passivbot.live.state import BotState
from passivbot.records import KIND_REENTRY, LONG, N_PARAMS


class Scripted:
    """An adapter whose calls raise the scripted errors in turn, then succeed."""

    caps = binance.CAPS

    def __init__(self, create_errors=(), cancel_errors=()):
        self.create_errors, self.cancel_errors = list(create_errors), list(cancel_errors)
        self.create_ids: list[str] = []
        self.cancels: list[str] = []

    async def create_order(self, side, close, qty, price, client_id):
        self.create_ids.append(client_id)
        if self.create_errors:
            raise self.create_errors.pop(0)
        return {"id": f"x{len(self.create_ids)}", "status": "open"}

    async def cancel_order(self, order_id):
        self.cancels.append(order_id)
        if self.cancel_errors:
            raise self.cancel_errors.pop(0)
        return {"id": order_id}


def executor(adapter, caplog=None):
    st = BotState(params=np.zeros((2, N_PARAMS)))
    log = logging.getLogger("test-exec")
    return Executor(adapter, st, log, Redactor(("SECRETSECRET",)), orders_per_s=1000,
                    retry_base=0.001, retry_max=0.002), st


W = Wanted(LONG, False, 0.1, 1990.0, KIND_REENTRY)


async def test_retried_create_reuses_client_id_and_duplicate_means_placed():
    a = Scripted(create_errors=[ccxt.RequestTimeout("t"), ccxt.InvalidOrder(
        'binanceusdm {"code": -4116, "msg": "ClientOrderId is duplicated."}')])
    ex, st = executor(a)
    out = await ex.run(Plan(creates=[W]))
    assert len(a.create_ids) == 2 and a.create_ids[0] == a.create_ids[1]  # same id on retry
    assert out.reconcile and out.skipped == 0  # placed after all: reconcile, do not re-create


async def test_insufficient_margin_skips_and_logs_once(caplog):
    a = Scripted(create_errors=[ccxt.InsufficientFunds('{"code": -2019} SECRETSECRET')] * 3)
    ex, st = executor(a)
    with caplog.at_level(logging.WARNING, logger="test-exec"):
        for _ in range(3):
            out = await ex.run(Plan(creates=[W]))
            assert out.skipped == 1 and not out.reconcile
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 1 and "SECRETSECRET" not in skipped[0].getMessage()
    out = await ex.run(Plan(creates=[W]))  # succeeds again: the next skip is logged again
    assert out.created == 1 and "x4" in st.open_orders


async def test_unknown_order_on_cancel_is_a_fill_to_reconcile():
    a = Scripted(cancel_errors=[ccxt.OrderNotFound('{"code": -2011, "msg": "Unknown order"}')])
    ex, st = executor(a)
    st.open_orders["7"] = OpenOrder("7", "pb", LONG, False, 0.1, 1990.0)
    out = await ex.run(Plan(cancels=[st.open_orders["7"]]))
    assert out.reconcile and "7" not in st.open_orders


async def test_auth_error_stops_with_a_redacted_message():
    a = Scripted(create_errors=[ccxt.AuthenticationError("bad key SECRETSECRET")])
    ex, _ = executor(a)
    with pytest.raises(StopError) as e:
        await ex.run(Plan(creates=[W]))
    assert "SECRETSECRET" not in str(e.value) and "AuthenticationError" in str(e.value)


async def test_a_burst_of_events_gives_one_cycle():
    import asyncio

    from passivbot.config import load_live_config
    from passivbot.live.bot import BotOptions, LiveBot

    bot = LiveBot(Scripted(), load_live_config("ETH-J1"), logging.getLogger("test-burst"),
                  options=BotOptions(debounce_s=0.05, use_local_clock=False))
    task = asyncio.get_running_loop().create_task(bot._cycle_loop(), name="cycle")
    bot._tasks.append(task)
    try:
        for _ in range(100):
            bot.trigger("price")
            await asyncio.sleep(0)
        assert await bot.wait_settled(5.0)
        assert bot.cycles == 1
        bot.trigger("fill")
        assert await bot.wait_settled(5.0) and bot.cycles == 2
    finally:
        bot.stopping.set()
        bot._dirty.set()
        await asyncio.wait_for(task, 5)
