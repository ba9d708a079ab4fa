"""What the status page (and anything else that shows the bot) needs to know, as plain data.

`StatusSnapshot` is a frozen picture of the bot at one moment: account, positions, open
orders, recent fills and errors, equity over time, the config in use. The bot builds one on
demand (the status page calls a provider `() -> StatusSnapshot | dict` per request), so the
page never reaches into the bot's live state and cannot change it. `StatusRecorder` keeps the
bounded histories (fills, errors, equity points) that a single moment does not hold.

Units: prices and money in the quote currency (USDT); sizes in base units, positive for both
sides (the side says which); times in ms since the epoch, exchange (market) time: in paper
trading that is the emulator's candle clock, not the wall clock.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from passivbot.config.services import REDACTED, redact_url
from passivbot.risk import STOP_FOREVER

SECRET_WORDS = ("key", "secret", "token", "password", "passphrase", "url", "webhook")


@dataclass(frozen=True)
class PositionView:
    """One side's position. `liq_price` 0 = none (or unknown); `upnl` at the last price."""

    side: str  # "long" | "short"
    size: float
    price: float
    liq_price: float = 0.0
    upnl: float = 0.0


@dataclass(frozen=True)
class OrderView:
    """One resting order. `kind`: "entry" or "close" (reduce-only); empty when unknown."""

    side: str  # "buy" | "sell"
    position_side: str  # "long" | "short"
    qty: float
    price: float
    kind: str = ""
    id: str = ""


@dataclass(frozen=True)
class FillView:
    """One fill. `realized_pnl` excludes the fee; `maker` False = the taker fee was paid."""

    ts_ms: int
    side: str
    position_side: str
    qty: float
    price: float
    fee: float
    realized_pnl: float = 0.0
    maker: bool = True


@dataclass(frozen=True)
class ErrorView:
    ts_ms: int
    message: str  # already redacted by the bot's Redactor


@dataclass(frozen=True)
class EquityPoint:
    ts_ms: int
    balance: float
    equity: float


@dataclass(frozen=True)
class RiskView:
    """The bounded-loss state (live/bounded_loss.py) at the snapshot's moment.

    `stop_until_ms`: 0 = no equity stop in force, else no entries before it (exchange ms);
    `risk.STOP_FOREVER` = until cleared by a person. `close_pending`: the stop's market closes are
    not yet confirmed flat. `unstuck_loss` / `unstuck_allowance`: realized unstuck loss per side
    [long, short] and its cap (allowance share x peak balance), quote; allowance 0 = unstuck off
    on that side. `unstuck_closes`: reduce-only fills at a loss (fee > pnl) this session, the fills
    that use the allowance."""

    stop_on: bool = False
    stop_until_ms: int = 0
    close_pending: bool = False
    unstuck_loss: tuple[float, float] = (0.0, 0.0)
    unstuck_allowance: tuple[float, float] = (0.0, 0.0)
    unstuck_closes: int = 0

    def stop_text(self, now_ms: int) -> str:
        """'STOPPED until HH:MM UTC', 'STOPPED until cleared', or why entries are allowed."""
        if self.stop_until_ms >= STOP_FOREVER:
            return "STOPPED until cleared (restart with --clear-equity-stop)"
        if self.stop_until_ms > now_ms or self.close_pending:
            until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(self.stop_until_ms / 1000))
            return f"STOPPED until {until}" + (", closing positions" if self.close_pending
                                                else "")
        return "armed, not stopped" if self.stop_on else "off"

    def unstuck_text(self) -> str:
        if not any(self.unstuck_allowance):
            return "unstuck off"
        sides = ", ".join(f"{n} {lo:.2f}/{al:.2f}" for n, lo, al in
                          zip(("long", "short"), self.unstuck_loss, self.unstuck_allowance))
        return f"unstuck loss used/allowance {sides} ({self.unstuck_closes} closes at a loss)"


def risk_view(risk: Any, unstuck_closes: int = 0) -> RiskView | None:
    """A `RiskView` of a `live.bounded_loss.BoundedLoss` (None: no bounded-loss rules)."""
    if risk is None:
        return None
    from passivbot import risk as rk

    st = risk.st
    peak = float(st.peak_balance)
    allow = tuple(float(risk.rparams[j, rk.U_LOSS_ALLOWANCE_PCT]) * peak
                  if risk.rparams[j, rk.U_THRESHOLD] > 0.0 else 0.0 for j in range(2))
    return RiskView(bool(risk.stop_on), int(st.stop_until_ms), bool(st.close_pending),
                    (float(st.unstuck_loss[0]), float(st.unstuck_loss[1])), allow,
                    int(unstuck_closes))


@dataclass(frozen=True)
class StatusSnapshot:
    """The bot at `ts_ms`. `equity` = balance + unrealized PnL of both positions.

    `mode`: "live", "testnet" or "paper" (emulator). `connected` False with
    `disconnected_since_ms` = when the streams were lost (the price is then stale).
    `config` is the live config as `live_config_to_dict` prints it; `to_dict` scrubs any key
    that looks secret once more, so a provider passing a raw dict cannot leak one.
    """

    exchange: str
    symbol: str
    mode: str
    ts_ms: int
    last_price: float
    balance: float
    equity: float
    connected: bool = True
    disconnected_since_ms: int | None = None
    started_ms: int = 0
    session_realized_pnl: float = 0.0
    session_fees: float = 0.0
    positions: tuple[PositionView, ...] = ()
    open_orders: tuple[OrderView, ...] = ()
    recent_fills: tuple[FillView, ...] = ()
    errors: tuple[ErrorView, ...] = ()
    equity_history: tuple[EquityPoint, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    risk: RiskView | None = None  # None: the bot has no bounded-loss rules (or not yet set up)
    # Funding this session (live/funding.py), received positive (the backtest's funding_net
    # sign); per side where the venue or the positions tell the side.
    session_funding: float = 0.0
    session_funding_long: float = 0.0
    session_funding_short: float = 0.0
    funding_events: int = 0

    @property
    def upnl(self) -> float:
        return sum(p.upnl for p in self.positions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (the page's /api/status), config scrubbed of secrets."""
        d = dataclasses.asdict(self)
        d["config"] = scrub(self.config)
        d["upnl"] = self.upnl
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "StatusSnapshot":
        """The inverse of `to_dict` (extra keys ignored), for providers returning plain dicts."""
        subs = {"positions": PositionView, "open_orders": OrderView, "recent_fills": FillView,
                "errors": ErrorView, "equity_history": EquityPoint}
        names = {f.name for f in dataclasses.fields(cls)}
        kw: dict[str, Any] = {}
        for k, v in d.items():
            if k not in names:
                continue
            if k == "risk" and isinstance(v, dict):
                v = RiskView(**{a: tuple(b) if isinstance(b, list) else b
                                for a, b in v.items()
                                if a in {f.name for f in dataclasses.fields(RiskView)}})
            if k in subs:
                sub = subs[k]
                keep = {f.name for f in dataclasses.fields(sub)}
                v = tuple(x if isinstance(x, sub) else sub(**{a: b for a, b in x.items()
                                                               if a in keep}) for x in v)
            kw[k] = v
        return cls(**kw)


def scrub(value: Any) -> Any:
    """A copy of a JSON-like value with every value under a secret-looking key replaced
    (URLs keep scheme and host). Key names themselves are kept, so the reader sees what is
    configured without seeing it."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if any(w in str(k).lower() for w in SECRET_WORDS) and v not in (None, "", REDACTED):
                out[k] = redact_url(v) if isinstance(v, str) and "://" in v else REDACTED
            else:
                out[k] = scrub(v)
        return out
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


class StatusRecorder:
    """Bounded histories for the snapshot: the last `max_fills` fills, `max_errors` errors, and
    equity points thinned to one per `equity_every_ms` (the newest point in each interval
    wins), at most `max_points` (about 4 days at one a minute). Also sums the session's
    realized PnL and fees from the fills it is given."""

    def __init__(self, max_fills: int = 50, max_errors: int = 20, max_points: int = 6000,
                 equity_every_ms: int = 60_000):
        self.fills: deque[FillView] = deque(maxlen=max_fills)
        self.errors: deque[ErrorView] = deque(maxlen=max_errors)
        self.points: deque[EquityPoint] = deque(maxlen=max_points)
        self.equity_every_ms = equity_every_ms
        self.session_realized_pnl = 0.0
        self.session_fees = 0.0
        self.session_funding = 0.0
        self.session_funding_side = {"long": 0.0, "short": 0.0}
        self.funding_events = 0

    def add_funding(self, side: str, amount: float) -> None:
        """One funding settlement (received positive); `side` "long", "short" or ""."""
        self.session_funding += amount
        self.funding_events += 1
        if side in self.session_funding_side:
            self.session_funding_side[side] += amount

    def add_fill(self, fill: FillView) -> None:
        self.fills.append(fill)
        self.session_realized_pnl += fill.realized_pnl
        self.session_fees += fill.fee

    def add_error(self, ts_ms: int, message: str) -> None:
        self.errors.append(ErrorView(int(ts_ms), str(message)))

    def add_equity(self, ts_ms: int, balance: float, equity: float) -> None:
        p = EquityPoint(int(ts_ms), float(balance), float(equity))
        if self.points and p.ts_ms // self.equity_every_ms == \
                self.points[-1].ts_ms // self.equity_every_ms:
            self.points[-1] = p
        elif not self.points or p.ts_ms > self.points[-1].ts_ms:
            self.points.append(p)

    def snapshot(self, **now: Any) -> StatusSnapshot:
        """A snapshot of the histories plus the moment's fields (`exchange`, `symbol`, `mode`,
        `ts_ms`, `last_price`, `balance`, `equity`, `positions`, `open_orders`, ...)."""
        return StatusSnapshot(
            recent_fills=tuple(self.fills), errors=tuple(self.errors),
            equity_history=tuple(self.points), session_realized_pnl=self.session_realized_pnl,
            session_fees=self.session_fees, session_funding=self.session_funding,
            session_funding_long=self.session_funding_side["long"],
            session_funding_short=self.session_funding_side["short"],
            funding_events=self.funding_events, **now)


def snapshot_from_state(state: Any, recorder: StatusRecorder, *, exchange: str, symbol: str,
                        mode: str, config: dict[str, Any], liq_price: float = 0.0,
                        connected: bool = True, disconnected_since_ms: int | None = None,
                        started_ms: int = 0, risk: RiskView | None = None) -> StatusSnapshot:
    """A snapshot of a `passivbot.live.state.BotState` (balance, positions, open orders, last
    price, exchange time) plus the recorder's histories: the provider the bot hands the status
    page can be `lambda: snapshot_from_state(bot.state, bot.recorder, ...)`.

    uPnL per side = size x (last - entry) for long, size x (entry - last) for short; equity =
    balance + both. `liq_price` is the account's (hedged) liquidation price, shown on each side
    that holds a position (`live.console.liq_price` computes it).
    """
    from passivbot.records import LONG

    price = float(state.last_price)
    positions = []
    for j, side in enumerate(("long", "short")):
        size, entry = float(state.psize[j]), float(state.pprice[j])
        sign = 1.0 if side == "long" else -1.0
        upnl = sign * size * (price - entry) if size and price else 0.0
        positions.append(PositionView(side, size, entry, liq_price if size else 0.0, upnl))
    orders = tuple(
        OrderView("buy" if o.is_buy else "sell",
                  "long" if o.side == LONG else "short" if o.side is not None else "?",
                  float(o.qty), float(o.price), "close" if o.close else "entry", str(o.id))
        for o in state.open_orders.values())
    balance = float(state.balance)
    equity = balance + sum(p.upnl for p in positions)
    return recorder.snapshot(
        exchange=exchange, symbol=symbol, mode=mode, ts_ms=int(state.exchange_time),
        last_price=price, balance=balance, equity=equity, connected=connected,
        disconnected_since_ms=disconnected_since_ms, started_ms=started_ms,
        positions=tuple(positions), open_orders=orders, config=config, risk=risk)


def bot_snapshot(bot: Any) -> StatusSnapshot:
    """The snapshot of a running `live.bot.LiveBot` (read-only): the status page's provider
    for one symbol, and each symbol's section of a multi-symbol account's page."""
    v = bot.view
    return snapshot_from_state(
        bot.state, v.recorder, exchange=v.exchange, symbol=bot.config.symbol, mode=v.mode,
        config=v.config, liq_price=v.liq(), connected=v.disconnected_since is None,
        disconnected_since_ms=v.disconnected_since, started_ms=v.started_ms,
        risk=v.risk_view())


@dataclass(frozen=True)
class AccountSnapshot:
    """Several symbols of one account (live/multi.py): one wallet balance, equity = balance +
    every symbol's unrealized PnL, and each symbol's own snapshot (its balance and equity
    fields are the account's, seen from that symbol's streams)."""

    exchange: str
    mode: str
    ts_ms: int
    balance: float
    symbols: tuple[StatusSnapshot, ...]

    @property
    def upnl(self) -> float:
        return sum(s.upnl for s in self.symbols)

    @property
    def equity(self) -> float:
        return self.balance + self.upnl

    def to_dict(self) -> dict[str, Any]:
        return {"exchange": self.exchange, "mode": self.mode, "ts_ms": self.ts_ms,
                "balance": self.balance, "equity": self.equity, "upnl": self.upnl,
                "symbols": [s.to_dict() for s in self.symbols]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AccountSnapshot":
        return cls(d["exchange"], d["mode"], int(d["ts_ms"]), float(d["balance"]),
                   tuple(s if isinstance(s, StatusSnapshot) else StatusSnapshot.from_dict(s)
                         for s in d["symbols"]))


def account_snapshot(bots: Any) -> AccountSnapshot:
    """The account page's snapshot of a MultiBot's per-symbol bots (`{symbol: LiveBot}`)."""
    snaps = tuple(bot_snapshot(b) for b in bots.values())
    latest = max(snaps, key=lambda s: s.ts_ms)  # the freshest balance the streams delivered
    return AccountSnapshot(latest.exchange, latest.mode, latest.ts_ms, latest.balance, snaps)
