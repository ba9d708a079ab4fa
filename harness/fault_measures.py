"""What the fault campaign measures on the emulator's book at every poll: is it the calculator's
ideal, how many duplicates and orphans, how much entry exposure rests beyond the ideal; and the
bot-side helper it needs (a SIGKILL-like stop). Split from fault_campaign.py to keep each module
on one screen's worth of responsibility."""

from __future__ import annotations

from collections import Counter


def _keys(orders) -> Counter:
    from harness.live import order_key

    return Counter(order_key(o.side, o.close, o.qty, o.price) for o in orders)


BEHIND_MAX = 0.005  # how far behind a crossing ideal entry a post-only one may rest (share)


def book_keys(ideal, orders, acc) -> Counter:
    """The resting orders' keys, an entry the bot moved behind the book counted as the ideal
    entry it stands for. A post-only entry at the calculator's price cannot rest when that
    price would cross the venue's top of book (the realistic mode's bid/ask): the bot places it
    at the best price of its own side instead (`execution.behind_book`) and keeps it there while
    the calculator's price stays. Such an order is the ideal one when it has its side,
    direction and quantity, rests behind the calculator's price by at most `BEHIND_MAX` and
    would not cross the book now (our own resting buy is itself a bid: the venue's quoted bid
    may have moved below it); any other price is not ideal."""
    from harness.live import order_key

    crossing = [w for w in ideal if not w.close and acc.ask > 0.0
                and acc.crosses(w.is_buy, w.price)]
    out = Counter()
    for o in orders:
        key = order_key(o.side, o.close, o.qty, o.price)
        for i, w in enumerate(crossing):
            passive = (o.price < w.price if w.is_buy else o.price > w.price) and \
                not acc.crosses(w.is_buy, o.price)
            if (o.side == w.side and not o.close and round(o.qty - w.qty, 8) == 0 and passive
                    and abs(o.price - w.price) <= BEHIND_MAX * w.price):
                key = order_key(w.side, w.close, w.qty, w.price)
                del crossing[i]
                break
        out[key] += 1
    return out


def book_check(bot, emu, warm_from: int) -> tuple[bool, int, int]:
    """(book == ideal, duplicates, orphans) for the emulator's state now."""
    from harness.live import expected_orders

    wanted = expected_orders(emu.account, emu.candles, warm_from, bot.state.params, bot.market)
    ideal = _keys(wanted)
    book = book_keys(wanted, emu.account.open_orders.values(), emu.account)
    dups = sum(n - max(ideal.get(k, 0), 1) for k, n in book.items() if n > max(ideal.get(k, 0), 1))
    orphans = sum((book - ideal).values())
    return book == ideal, dups, orphans


def book_diff(bot, emu, warm_from: int) -> str:
    """The emulator's book against the ideal (orders not ideal, ideal orders missing), with the
    top of book and what the bot knows: the evidence for a fault that did not converge."""
    from harness.live import expected_orders

    wanted = expected_orders(emu.account, emu.candles, warm_from, bot.state.params, bot.market)
    ideal = _keys(wanted)
    book = book_keys(wanted, emu.account.open_orders.values(), emu.account)
    st = bot.state
    known = sorted((o.side, o.close, o.qty, o.price, o.ideal_price)
                   for o in st.open_orders.values())
    return (f"not ideal {sorted((book - ideal).elements())}, missing "
            f"{sorted((ideal - book).elements())}, bot's bid/ask {st.bid}/{st.ask}, "
            f"venue's {emu.account.bid}/{emu.account.ask}, "
            f"bot knows {known}")


def state_diff(bot, emu) -> str:
    """The bot's state against the emulator's (what `caught_up` compares), for a fault whose
    position or state did not catch up."""
    acc, st = emu.account, bot.state
    return (f"last closed {st.last_closed_ts} vs {int(emu.candles[acc.clock - 1, 0])}, close "
            f"{st.close_price} vs {float(emu.candles[acc.clock - 1, 4])}, balance {st.balance} "
            f"vs {acc.balance}, long {st.psize[0]}@{st.pprice[0]} vs {acc.positions[1].size}@"
            f"{acc.positions[1].price}, short {st.psize[1]}@{st.pprice[1]} vs "
            f"{acc.positions[-1].size}@{acc.positions[-1].price}, bot stopping "
            f"{bot.stopping.is_set()}, tasks done {bot.ended_tasks()}")


def excess_exposure(bot, emu, warm_from: int) -> float:
    """The worst side's resting entry quantity beyond the calculator's ideal entries, valued at
    the last price (quote). An entry resting at a stale price with the ideal quantity is not an
    excess; a second entry on a side is."""
    from harness.live import expected_orders

    ideal = expected_orders(emu.account, emu.candles, warm_from, bot.state.params, bot.market)
    worst = 0.0
    for side in (-1, 1):
        want = sum(w.qty for w in ideal if w.side == side and not w.close)
        rest = sum(o.qty for o in emu.account.open_orders.values()
                   if o.side == side and not o.close)
        worst = max(worst, (rest - want) * emu.account.last_price)
    return worst


class ExposureMeter:
    """Entry exposure resting beyond what the calculator asked for, measured at every poll.

    The venue changes the account at once (a take-profit fills: the side is flat, its ideal is
    one initial entry instead of a grid of re-entries); the bot learns it by a stream message
    and needs a cancel round trip to follow. At a poll in between, the grid the bot rightly
    placed for the state before still rests: that is the venue moving, not exposure the bot
    added (evidence: bench/faults.py seeds 2-3, every such reading at +0.000 s after the fill,
    the bot not caught up, its known orders = the resting ones = the previous state's ideal).
    So the allowance of a side is the largest ideal entry quantity of the emulator states seen
    since that side's resting entries last equalled the ideal (the window resets there); an
    entry the bot adds beside one it failed to cancel (the replacement of a stale entry, a
    second initial entry) exceeds every single state's ideal and is counted. Callers measure
    before and after each candle the emulator settles, so no state the bot can act on is
    missed (a missed one can only make the reading stricter)."""

    def __init__(self) -> None:
        self.allowed: dict[int, float | None] = {1: None, -1: None}

    def measure(self, bot, emu, warm_from: int) -> float:
        """The worst side's excess now, in quote (0 when within the allowance)."""
        from harness.live import expected_orders

        ideal = expected_orders(emu.account, emu.candles, warm_from, bot.state.params,
                                bot.market)
        worst = 0.0
        for side in (-1, 1):
            want = [w for w in ideal if w.side == side and not w.close]
            rest = [o for o in emu.account.open_orders.values() if o.side == side and not o.close]
            want_q, rest_q = sum(w.qty for w in want), sum(o.qty for o in rest)
            if book_keys(want, rest, emu.account) == _keys(want) or self.allowed[side] is None:
                self.allowed[side] = want_q  # the side is ideal: a new window
            else:
                self.allowed[side] = max(self.allowed[side], want_q)
            worst = max(worst, (rest_q - self.allowed[side]) * emu.account.last_price)
        return worst


def excess_detail(bot, emu, warm_from: int) -> str:
    """What rests against what is ideal, per side, and what the bot knows: the evidence for an
    excess-exposure reading (which order, placed when, for which state)."""
    from harness.live import caught_up, expected_orders

    acc, st = emu.account, bot.state
    ideal = expected_orders(acc, emu.candles, warm_from, bot.state.params, bot.market)
    parts = [f"clock {acc.clock} last {acc.last_price} caught_up {caught_up(bot, emu)}"]
    for j, side in enumerate((1, -1)):
        want = [(w.qty, w.price) for w in ideal if w.side == side and not w.close]
        rest = [(o.qty, o.price, o.client_id[-5:], o.created_ms)
                for o in acc.open_orders.values() if o.side == side and not o.close]
        known = [(o.qty, o.price, o.client_id[-5:]) for o in st.open_orders.values()
                 if o.side == side and not o.close]
        parts.append(f"side {side}: pos {acc.positions[side].size} (bot {st.psize[j]}) "
                     f"ideal {want} resting {rest} bot knows {known}")
    return "; ".join(parts)


async def hard_kill(bot) -> None:
    """What a SIGKILL leaves: tasks gone, sockets closed, no shutdown code, orders resting."""
    await bot.kill_tasks()
    await bot.adapter.ex.close()
