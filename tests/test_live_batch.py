"""The executor's batches: orders go out in the venue's batch sizes, one HTTP request each, and
every order of a batch is decided on its own answer (one refused never loses the others, a
cancel without an answer blocks its side so no replacement rests beside it)."""

import logging

import ccxt
import numpy as np
import pytest

from passivbot.exchanges import binance, bybit
from passivbot.exchanges.errors import Redactor, StopError
from passivbot.live.diff import OpenOrder, Plan, Wanted
from passivbot.live.execution import Executor, chunks
from passivbot.records import KIND_CLOSE, KIND_REENTRY, LONG, N_PARAMS, SHORT
from passivbot.live.state import BotState


class Batching:
    """An adapter with batch calls answering scripted rows (None: a row that succeeds)."""

    def __init__(self, caps=binance.CAPS, create_rows=(), cancel_rows=(), fail_first=None):
        self.caps = caps
        self.create_rows, self.cancel_rows = list(create_rows), list(cancel_rows)
        self.fail_first = fail_first
        self.requests: list[tuple[str, list]] = []

    async def create_orders(self, orders):
        self.requests.append(("create", [o[4] for o in orders]))
        if self.fail_first is not None:
            e, self.fail_first = self.fail_first, None
            raise e
        out = []
        for side, close, qty, price, cid in orders:
            r = self.create_rows.pop(0) if self.create_rows else "ok"
            out.append({"id": f"id-{cid}", "clientOrderId": cid, "status": "open"}
                       if r == "ok" else r)
        return out

    async def cancel_orders(self, ids):
        self.requests.append(("cancel", list(ids)))
        out = []
        for i in ids:
            r = self.cancel_rows.pop(0) if self.cancel_rows else "ok"
            out.append({"id": i, "status": "canceled"} if r == "ok" else r)
        return out

    async def create_order(self, side, close, qty, price, client_id):
        self.requests.append(("create1", [client_id]))
        return {"id": f"id-{client_id}", "status": "open"}

    async def cancel_order(self, order_id):
        self.requests.append(("cancel1", [order_id]))
        return {"id": order_id}


def executor(adapter):
    st = BotState(params=np.zeros((2, N_PARAMS)))
    return Executor(adapter, st, logging.getLogger("test-batch"), Redactor(()),
                    orders_per_s=1000, retry_base=0.001, retry_max=0.002), st


def entries(n, side=LONG):
    return [Wanted(side, False, 0.1, 1990.0 - i, KIND_REENTRY) for i in range(n)]


def test_chunks_keep_order_and_size():
    assert chunks(list(range(7)), 5) == [[0, 1, 2, 3, 4], [5, 6]]
    assert chunks([1, 2], 0) == [[1], [2]] and chunks([], 5) == []


async def test_orders_go_in_the_venues_batch_sizes():
    a = Batching()  # Binance: 5 creates, 10 cancels a request
    ex, st = executor(a)
    out = await ex.run(Plan(creates=entries(7)))
    assert [(k, len(ids)) for k, ids in a.requests] == [("create", 5), ("create", 2)]
    assert out.created == 7 and len(st.open_orders) == 7
    a.requests.clear()
    await ex.run(Plan(cancels=list(st.open_orders.values())))
    assert [(k, len(ids)) for k, ids in a.requests] == [("cancel", 7)]
    assert not st.open_orders
    b = Batching(caps=bybit.CAPS)  # Bybit: 10 a request; a lone order is a single call
    ex, st = executor(b)
    await ex.run(Plan(creates=entries(11)))
    assert [(k, len(ids)) for k, ids in b.requests] == [("create", 10), ("create1", 1)]


async def test_a_refused_order_in_a_batch_loses_none_of_the_others():
    margin = ccxt.InsufficientFunds('binanceusdm {"code": -2019, "msg": "Margin is '
                                    'insufficient."}')
    crossed = ccxt.OrderImmediatelyFillable('binanceusdm {"code": -5022, "msg": "Post Only"}')
    a = Batching(create_rows=["ok", margin, "ok", crossed, "ok"])
    ex, st = executor(a)
    out = await ex.run(Plan(creates=entries(5)))
    assert (out.created, out.skipped, out.held) == (3, 1, 1) and not out.reconcile
    placed = sorted(o.client_id for o in st.open_orders.values())
    sent = a.requests[0][1]
    assert placed == sorted([sent[0], sent[2], sent[4]])
    assert ex.holds.held_for((LONG, False, round(1990.0 - 3, 8))) > 0  # the crossed one holds


async def test_a_batch_refused_whole_is_retried_with_the_same_client_ids():
    a = Batching(fail_first=ccxt.ExchangeNotAvailable("503"))
    ex, st = executor(a)
    out = await ex.run(Plan(creates=entries(3)))
    assert len(a.requests) == 2 and a.requests[0][1] == a.requests[1][1]
    assert out.created == 3


async def test_a_cancel_without_an_answer_blocks_its_side():
    """Row 2's cancel has no answer (ccxt drops a failed cancel row): it may still rest, so
    no long entry is created in this cycle; the short side's replacement goes out."""
    gone = ccxt.OrderNotFound('binanceusdm {"code": -2011, "msg": "Unknown order sent."}')
    a = Batching(cancel_rows=["ok", None, gone])
    ex, st = executor(a)
    olds = [OpenOrder(f"o{i}", f"pb-{i}", LONG, False, 0.1, 1980.0 - i) for i in range(3)]
    for o in olds:
        st.open_orders[o.id] = o
    out = await ex.run(Plan(cancels=olds, creates=entries(1) + entries(1, SHORT)))
    assert set(st.open_orders) == {"o1", "id-" + a.requests[-1][1][0]}  # o1 may still rest
    assert out.cancelled == 1 and out.reconcile
    assert [k for k, _ in a.requests] == ["cancel", "create1"]  # the short entry only
    assert ex.state.open_orders["id-" + a.requests[-1][1][0]].side == SHORT


async def test_a_stop_class_row_stops():
    a = Batching(create_rows=["ok", ccxt.AuthenticationError("binanceusdm -2015 bad key")])
    ex, _ = executor(a)
    with pytest.raises(StopError):
        await ex.run(Plan(creates=[Wanted(LONG, False, 0.1, 1990.0, KIND_REENTRY),
                                   Wanted(LONG, True, 0.1, 2010.0, KIND_CLOSE)]))
