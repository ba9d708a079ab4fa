"""Fault campaign: the live bot trades the emulator in lockstep while every fault the emulator
offers is injected at random minutes (from a seed); after each fault clears, the bot must reach
the ideal orders for the emulator's actual state within a deadline, with no duplicate and no
orphan order and its position equal to the emulator's.

Faults (`FAULTS`): websocket drop, 429 burst, 5xx burst (500/502/503), slow responses,
responses held past the client's timeout (the request still executes), the answer to a
create held past the timeout (`lost_create`: the order is placed, the bot retries it with the
same client id and must not end up with two), rejected orders, listenKey expiry that closes the
socket and (`listen_key_silent`, Binance's real behaviour) one that leaves it open and silent
(Binance only), a hard kill + restart of the bot; and the venues' harsher answers
(`NEW_FAULTS`): the server clock 2 s behind the client (`clock_skew`: -1021 / 10002 until the
bot corrects its timestamps), the request budget used up (`rate_limit`: Binance 429 with
Retry-After, then 418 bans that grow for a client that keeps calling; Bybit 10006), an IP ban
(`ip_ban`: Binance 418, Bybit 403 for 10 venue minutes, scaled by the emulator's speed), every
fill of a candle in 2-3 executions (`partial_fills`), every websocket closed as after 24 h
(`cut_24h`). `long_outage` (not in the seeded plan: `Campaign.outage`) fails every request and
websocket handshake until a number of consecutive failures (1,025 by default) or a wall-time
limit. Burst sizes are drawn from the seed. The
kill is in-process: the bot's tasks are cancelled and its connections closed with no shutdown
code run (what the exchange sees of a SIGKILL: sockets gone, orders left resting); a candle
passes while it is down, then a new LiveBot starts on a new ccxt client. (A real SIGKILL of
start_bot.py is tested in tests/test_live_cli.py.)

Timeline of one fault at minute m: lockstep up to m; arm the fault; the emulator settles one
candle (so the bot has work to do under the fault); the fault *clears* when its count is used
up (or after `clear_after_s`, when it is disarmed), at once for a drop or an expiry, and when
the new bot starts for a restart. Convergence time = from clearing until the emulator's book
equals the ideal book (`harness.live.expected_orders` on the emulator's account, EMAs on the
candles the running bot warmed on) and the bot's state has caught up (price, balance,
positions). Duplicates (same side, direction, price, qty more times than the ideal set has,
or twice when not ideal) are counted at every poll, not only at the end. Exposure: at every
poll (and after every lockstep minute) the notional of the entries resting per side is compared
with the calculator's ideal entries for that side (`fault_measures.ExposureMeter`: the largest
ideal of the venue's states since the side was last ideal, since a fill changes the venue's
state before the bot can hear of it); `excess_exposure` is the worst excess in quote (the bot
must never rest more entry exposure than the ideal, even while a cancel fails). A reading, and
a fault that does not converge, is reported with its evidence (what rests, what is ideal, what
the bot knows).
`refused_in_wait`: requests the emulator refused while a Retry-After or ban it had announced
was running (a bot that honours Retry-After sends none).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass, field

import numpy as np

from passivbot.config import LiveConfig
from harness.fault_measures import (  # noqa: F401 (book_check, excess_exposure: public API)
    ExposureMeter, book_check, book_diff, excess_detail, state_diff, excess_exposure, hard_kill,
)
from harness.parity import lockstep_options, settle, start_bot

CLIENT_TIMEOUT_MS = 2000  # the bot's ccxt request timeout in the campaign
SLOW_S = 1.0  # "slow": answers held back this long (below the client timeout)
LOST_S = 2.5  # "timeout": held back past the client timeout (the request is still executed)
CREATE_ROUTE = {"binance": "POST /fapi/v1/order", "bybit": "POST /v5/order/create"}
FAULTS = ("ws_drop", "http_429", "http_5xx", "slow", "timeout", "lost_create", "reject",
          "listen_key", "kill_restart")
NEW_FAULTS = ("clock_skew", "rate_limit", "ip_ban", "listen_key_silent", "partial_fills",
              "cut_24h")
BINANCE_ONLY = ("listen_key", "listen_key_silent")
SKEW_MS = -2000  # the server 2 s behind: the client's timestamps 2 s ahead
EXPOSURE_TOL = 1e-6  # quote


def faults_for(exchange: str, faults: tuple[str, ...] = FAULTS) -> tuple[str, ...]:
    return tuple(f for f in faults if f not in BINANCE_ONLY or exchange == "binance")


@dataclass
class FaultResult:
    fault: str
    minute: int
    converged_s: float  # inf if it did not converge within the poll limit
    duplicates: int  # max over the polls
    orphans: int  # open orders not in the ideal set at the end
    position_ok: bool
    excess_exposure: float = 0.0  # worst resting entry notional over the ideal, quote
    refused_in_wait: int = 0  # requests sent while an announced Retry-After / ban ran
    note: str = ""
    evidence: str = ""  # the worst excess reading (excess_detail), a book not ideal (book_diff)

    @property
    def exposure_ok(self) -> bool:
        return self.excess_exposure <= EXPOSURE_TOL

    def survived(self, deadline_s: float) -> bool:
        return (self.converged_s <= deadline_s and self.duplicates == 0 and self.orphans == 0
                and self.position_ok)


@dataclass
class CampaignReport:
    exchange: str
    seed: int
    results: list[FaultResult] = field(default_factory=list)
    deadline_s: float = 10.0

    @property
    def survived(self) -> int:
        return sum(r.survived(self.deadline_s) for r in self.results)

    @property
    def worst_s(self) -> float:
        return max((r.converged_s for r in self.results), default=0.0)

    @property
    def duplicates(self) -> int:
        return sum(r.duplicates for r in self.results)

    @property
    def excess_exposure(self) -> float:
        return max([r.excess_exposure for r in self.results] + [self.between_excess])

    between_excess: float = 0.0  # worst excess exposure after the lockstep minutes between faults
    unsettled: list = field(default_factory=list)  # minutes the bot did not catch up with


def schedule(seed: int, exchange: str, n_minutes: int, rounds: int = 1,
             first: int = 5, gap: int = 3,
             faults: tuple[str, ...] = FAULTS) -> list[tuple[int, str]]:
    """(minute, fault) pairs: every fault `rounds` times in a seeded order at seeded minutes
    in [first, n_minutes), at least `gap` minutes apart."""
    rng = random.Random(seed)
    faults = [f for _ in range(rounds) for f in faults_for(exchange, faults)]
    rng.shuffle(faults)
    slots = list(range(first, n_minutes - gap, gap))
    if len(slots) < len(faults):
        raise ValueError(f"{n_minutes} minutes cannot hold {len(faults)} faults {gap} apart")
    minutes = sorted(rng.sample(slots, len(faults)))
    return list(zip(minutes, faults))


class Campaign:
    def __init__(self, exchange: str, cfg: LiveConfig, candles: np.ndarray, seed: int,
                 deadline_s: float = 10.0, poll_limit_s: float = 30.0,
                 clear_after_s: float = 3.0, realism="minute", outage_failures: int = 1025,
                 outage_limit_s: float = 120.0, options=None) -> None:
        self.exchange, self.cfg, self.candles, self.seed = exchange, cfg, candles, seed
        self.options = options  # the bot's BotOptions (None: lockstep_options())
        self.realism = realism
        self.outage_failures, self.outage_limit_s = outage_failures, outage_limit_s
        self.n_minutes = len(candles) - 1
        self.refused_in_wait = 0
        self.between_excess = 0.0
        self.meter = ExposureMeter()
        self.fault_x, self.fault_note = 0.0, ""  # the running fault's worst excess, evidence
        self.deadline_s, self.poll_limit_s = deadline_s, poll_limit_s
        self.clear_after_s = clear_after_s
        self.warm_from = 0
        self.rng = random.Random(seed)
        self.bot = None
        self.emu = None

    async def new_bot(self):
        return await start_bot(self.exchange, self.cfg, self.emu,
                               self.options or lockstep_options(),
                               timeout_ms=CLIENT_TIMEOUT_MS)

    async def converge(self, fault: str, minute: int, cleared: float) -> FaultResult:
        from harness.live import caught_up

        bot, emu = self.bot, self.emu
        worst_dups, done_at = 0, math.inf
        while time.monotonic() - cleared < self.poll_limit_s:
            ideal, dups, _ = book_check(bot, emu, self.warm_from)
            worst_dups = max(worst_dups, dups)
            self.measure(f"+{time.monotonic() - cleared:.3f} s after clearing")
            if ideal and caught_up(bot, emu) and bot.settled():
                t = time.monotonic()
                await emu.wait_idle(0.005, 2.0)
                ideal, dups, _ = book_check(bot, emu, self.warm_from)
                worst_dups = max(worst_dups, dups)
                if ideal and caught_up(bot, emu):
                    done_at = t
                    break
            await asyncio.sleep(0.005)
        ideal, dups, orphans = book_check(bot, emu, self.warm_from)
        if not ideal:  # did not converge: the evidence with the excess's, if any
            self.fault_note = (self.fault_note + "; " if self.fault_note else "") + \
                book_diff(bot, emu, self.warm_from)
        if not caught_up(bot, emu):
            self.fault_note = (self.fault_note + "; " if self.fault_note else "") + \
                state_diff(bot, emu)
        refused, self.refused_in_wait = self.refused_in_wait, 0
        return FaultResult(fault, minute, max(0.0, done_at - cleared), max(worst_dups, dups),
                           orphans, caught_up(bot, emu), self.fault_x, refused,
                           evidence=self.fault_note)

    def measure(self, when: str) -> float:
        """Excess entry exposure now (`ExposureMeter`); the running fault's worst is kept with
        its evidence (`excess_detail`)."""
        x = self.meter.measure(self.bot, self.emu, self.warm_from)
        if x > self.fault_x and x > EXPOSURE_TOL:
            self.fault_x = x
            self.fault_note = (f"excess {x:.2f} {when}: "
                               + excess_detail(self.bot, self.emu, self.warm_from))
        return x

    async def _wait_used(self, left) -> float:
        """Until the armed fault's count is used up, or disarm it after clear_after_s."""
        f = self.emu.faults
        t0 = time.monotonic()
        while left() > 0 and time.monotonic() - t0 < self.clear_after_s:
            await asyncio.sleep(0.005)
        f.http_count = f.delay_count = f.reject_count = 0
        return time.monotonic()

    async def _lost_create(self) -> float:
        """The answer to the next create is held past the client's timeout (the order is
        still placed): the bot retries with the same client id."""
        emu, f = self.emu, self.emu.faults
        f.delay(LOST_S, 1, only=CREATE_ROUTE[self.exchange])
        await emu.advance(1)
        used = await self._wait_used(lambda: f.delay_count)
        return used + LOST_S

    async def _wait_free(self) -> float:
        """Until the emulator's limiter lets requests through (the Retry-After / ban is over);
        counts the requests refused meanwhile after the first (which the bot could not know)."""
        lim = self.emu.limiter
        n0 = len(lim.log)
        t0 = time.monotonic()
        while time.monotonic() - t0 < self.poll_limit_s:
            self.measure("while the limiter refuses")
            if not lim.refusing(time.monotonic()):
                break
            await asyncio.sleep(0.005)
        self.refused_in_wait = max(0, len(lim.log) - n0 - 1)
        self.emu.limits_armed = self.emu.realism.rate_limits
        return time.monotonic()

    async def _harsh(self, fault: str) -> float:
        """The venues' harsher answers (NEW_FAULTS); returns the time the fault cleared."""
        emu, f = self.emu, self.emu.faults
        if fault == "clock_skew":
            f.skew_clock(SKEW_MS)  # stays: the bot must correct its timestamps
            await emu.advance(1)
            return time.monotonic()
        if fault == "rate_limit":
            f.exhaust_rate_limit()
            await emu.advance(1)
            return await self._wait_free()
        if fault == "ip_ban":
            f.ip_ban()
            await emu.advance(1)
            return await self._wait_free()
        if fault == "listen_key_silent":  # measured from the first fill after the expiry
            await f.expire_listen_key(silent=True)
            return await self._until_fill()
        if fault == "partial_fills":
            share, emu.account.partial_share = emu.account.partial_share, 1.0
            try:
                return await self._until_fill()
            finally:
                emu.account.partial_share = share
        if fault == "cut_24h":
            f.cut_connections()
            await emu.advance(1)
            return time.monotonic()
        raise ValueError(f"unknown fault {fault!r}")

    async def _until_fill(self, max_candles: int = 30) -> float:
        """Settle candles until one fills an order (or `max_candles`); the time it did."""
        for _ in range(max_candles):
            if self.emu.clock >= self.n_minutes:
                break
            if await self.emu.advance(1):
                break
            self.measure("waiting for a fill")
            try:
                await settle(self.bot, self.emu, timeout=self.poll_limit_s)
            except AssertionError:
                pass  # converge() measures what follows
            self.measure("waiting for a fill")
        return time.monotonic()

    async def outage(self, failures: int = 1025, limit_s: float = 120.0) -> tuple[int, float]:
        """`long_outage`: every request answers 503 and every websocket handshake is refused
        until `failures` requests/handshakes failed in a row or `limit_s` passed; returns
        (failures reached, monotonic time it cleared). The bot must neither die nor overflow:
        its streams come back and it converges after."""
        emu, f = self.emu, self.emu.faults
        f.http_errors(503, 10**9)
        f.refuse_websockets(10**9)
        await f.drop_websockets()
        await emu.advance(1)
        t0 = time.monotonic()

        def failed() -> int:
            return (10**9 - f.http_count) + (10**9 - f.ws_refuse_count)

        while failed() < failures and time.monotonic() - t0 < limit_s:
            await asyncio.sleep(0.05)
        n = failed()
        f.http_count = f.ws_refuse_count = 0
        return n, time.monotonic()

    async def inject(self, fault: str) -> float:
        """Arm `fault`, settle a candle under it, return the monotonic time it cleared."""
        emu, f = self.emu, self.emu.faults
        if fault in NEW_FAULTS:
            return await self._harsh(fault)
        if fault == "ws_drop":
            await f.drop_websockets()
            await emu.advance(1)
            return time.monotonic()
        if fault == "listen_key":
            await f.expire_listen_key(silent=False)
            await emu.advance(1)
            return time.monotonic()
        if fault == "kill_restart":
            await hard_kill(self.bot)
            await emu.advance(1)  # a minute passes while the bot is down (its orders may fill)
            cleared = time.monotonic()
            self.warm_from = max(0, emu.clock - self.bot.warmup_candles())
            self.bot = await self.new_bot()
            return cleared
        if fault == "lost_create":
            return await self._lost_create()
        rng = self.rng
        if fault == "http_429":
            f.http_errors(429, rng.randint(2, 12))
        elif fault == "http_5xx":
            f.http_errors(rng.choice((500, 502, 503)), rng.randint(2, 12))
        elif fault == "slow":
            f.delay(SLOW_S, rng.randint(2, 6))
        elif fault == "timeout":
            f.delay(LOST_S, rng.randint(1, 3))
        elif fault == "reject":
            f.reject_orders(rng.randint(1, 4))
        await emu.advance(1)
        used = await self._wait_used(lambda: f.http_count + f.delay_count + f.reject_count)
        # a delay fault clears when the last held answer is sent, its delay after it was taken
        return used + {"slow": SLOW_S, "timeout": LOST_S}.get(fault, 0.0)

    async def run(self, plan: list[tuple[int, str]], n_minutes: int) -> CampaignReport:
        from passivbot.emulator import Emulator

        rep = CampaignReport(self.exchange, self.seed, deadline_s=self.deadline_s)
        self.n_minutes = n_minutes
        self.emu = Emulator(self.exchange, self.cfg.symbol, self.candles, start_index=1,
                            realism=self.realism)
        await self.emu.start()
        try:
            self.bot = await self.new_bot()
            todo = dict(plan)
            while self.emu.clock < n_minutes:
                due = [m for m in todo if m <= self.emu.clock]  # a fault may run candles
                fault = todo.pop(min(due)) if due else None
                if fault is None:
                    await self.emu.advance(1, idle_s=0.001)
                    await self._settle(rep)
                    rep.between_excess = max(rep.between_excess, self.measure("between"))
                    continue
                minute = self.emu.clock
                self.fault_x, self.fault_note = 0.0, ""
                if fault == "long_outage":
                    t_out = time.monotonic()
                    n, cleared = await self.outage(self.outage_failures, self.outage_limit_s)
                    res = await self.converge(fault, minute, cleared)
                    res.note = (f"{n} consecutive failures in {cleared - t_out:.0f} s; bot "
                                f"tasks alive: {self.tasks_alive()}")
                else:
                    cleared = await self.inject(fault)
                    res = await self.converge(fault, minute, cleared)
                if fault == "clock_skew":
                    self.emu.faults.skew_clock(0)
                rep.results.append(res)
                await self._settle(rep)
        finally:
            if self.bot is not None:
                await self.bot.stop()
            await self.emu.stop()
        return rep


    async def _settle(self, rep: CampaignReport) -> bool:
        """The lockstep barrier; a minute the bot does not catch up with (realistic mode: its
        price from a late tick, say) is recorded in `rep.unsettled` and the run goes on."""
        try:
            await settle(self.bot, self.emu, timeout=self.poll_limit_s
                         if self.emu.realism.mode == "minute" else 3.0)
            return True
        except AssertionError:
            rep.unsettled.append(self.emu.clock)
            return False

    def tasks_alive(self) -> bool:
        """Every task of the running bot still running (a stream that died for good is not)."""
        return not self.bot.ended_tasks()


async def run_campaign(exchange: str, cfg: LiveConfig, candles: np.ndarray, seed: int,
                       n_minutes: int, rounds: int = 1, faults: tuple[str, ...] = FAULTS,
                       **kw) -> CampaignReport:
    """Lockstep over candles[1:n_minutes] with every fault of `faults` `rounds` times (see
    module). kw: Campaign's (deadline_s, poll_limit_s, clear_after_s, realism)."""
    plan = schedule(seed, exchange, n_minutes, rounds, faults=faults)
    return await Campaign(exchange, cfg, candles, seed, **kw).run(plan, n_minutes)


def report_lines(rep: CampaignReport) -> list[str]:
    lines = []
    for r in rep.results:
        state = "ok" if r.survived(rep.deadline_s) else "FAILED"
        lines.append(f"{rep.exchange} seed {rep.seed}: minute {r.minute} {r.fault}: converged "
                     f"{r.converged_s:.2f} s, duplicates {r.duplicates}, orphans {r.orphans}, "
                     f"position {'ok' if r.position_ok else 'DIFFERS'}, excess exposure "
                     f"{r.excess_exposure:.2f}, refused in wait {r.refused_in_wait}"
                     f"{' (' + r.note + ')' if r.note else ''} -> {state}")
        if r.evidence:
            lines.append(f"    {r.evidence}")
    return lines
