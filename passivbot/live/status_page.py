"""A read-only status page served by the bot: positions, open orders with prices, balance and
equity over time, recent fills, last errors, the config in use (secrets never).

Design:
- The page knows the bot only through a provider, `() -> StatusSnapshot | dict` (sync or
  async), called once per request (see `passivbot.live.snapshot`). It cannot change anything:
  only GET/HEAD routes exist (others answer 405).
- Bound to 127.0.0.1 by default. An optional token (query `?token=` or header
  `Authorization: Bearer`) is compared in constant time (hmac.compare_digest on digests); a
  non-loopback address without a token is refused at start. The access log is off, so a token
  in a URL is never written anywhere; `Referrer-Policy: no-referrer` keeps it out of other
  sites' logs.
- Server-rendered HTML with no script (CSP `default-src 'none'`), refreshed by a meta tag every
  `refresh_s`; the equity chart is inline SVG. The same data as JSON at `/api/status`.

Routes: `/` (HTML), `/api/status` (JSON), `/healthz` ("ok", no token: for a supervisor).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import inspect
import json
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from passivbot.config.services import is_loopback
from passivbot.errors import InputError
from passivbot.live.snapshot import AccountSnapshot, StatusSnapshot

Snapshot = StatusSnapshot | AccountSnapshot
Provider = Callable[[], "Snapshot | dict | Awaitable[Snapshot | dict]"]
SNAPSHOT_KEY = web.AppKey("provider", object)
TOKEN_KEY = web.AppKey("token_digest", object)
REFRESH_KEY = web.AppKey("refresh_s", int)

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store", "X-Frame-Options": "DENY",
}


def _digest(s: str) -> bytes:
    return hashlib.sha256(s.encode("utf-8", "surrogatepass")).digest()


def _authorized(request: web.Request) -> bool:
    want = request.app[TOKEN_KEY]
    if want is None:
        return True
    given = request.query.get("token", "")
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        given = auth[7:]
    return hmac.compare_digest(_digest(given), want)


@web.middleware
async def _guard(request: web.Request, handler):
    if request.path != "/healthz" and not _authorized(request):
        resp: web.StreamResponse = web.Response(status=401, text="401: token required\n")
    else:
        try:
            resp = await handler(request)
        except web.HTTPException as e:  # 404, 405: keep the headers on errors too
            e.headers.update(HEADERS)
            raise
    resp.headers.update(HEADERS)
    return resp


async def _snapshot(request: web.Request) -> Snapshot:
    """One symbol's snapshot, or an account's (a dict with `symbols`: several symbols)."""
    got = request.app[SNAPSHOT_KEY]()
    if inspect.isawaitable(got):
        got = await got
    if isinstance(got, (StatusSnapshot, AccountSnapshot)):
        return got
    return AccountSnapshot.from_dict(got) if "symbols" in got else StatusSnapshot.from_dict(got)


async def _page(request: web.Request) -> web.Response:
    try:
        snap = await _snapshot(request)
    except Exception as e:  # the bot is starting or its state is inconsistent: say so
        return web.Response(status=503, text=f"503: no snapshot yet ({type(e).__name__})\n")
    render = render_account_html if isinstance(snap, AccountSnapshot) else render_html
    body = render(snap, refresh_s=request.app[REFRESH_KEY])
    return web.Response(text=body, content_type="text/html", charset="utf-8")


async def _api(request: web.Request) -> web.Response:
    try:
        snap = await _snapshot(request)
    except Exception as e:
        return web.json_response({"error": f"no snapshot yet ({type(e).__name__})"}, status=503)
    return web.Response(text=json.dumps(snap.to_dict(), allow_nan=False, default=str),
                        content_type="application/json")


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


def make_app(provider: Provider, token: str | None = None, refresh_s: int = 5) -> web.Application:
    """The aiohttp application (no server); `token` None or "" = no token required."""
    app = web.Application(middlewares=[_guard])
    app[SNAPSHOT_KEY] = provider
    app[TOKEN_KEY] = _digest(token) if token else None
    app[REFRESH_KEY] = int(refresh_s)
    app.router.add_get("/", _page)
    app.router.add_get("/api/status", _api)
    app.router.add_get("/healthz", _health)
    return app


class StatusPage:
    """A running status page; `url` has no token in it (safe to log)."""

    def __init__(self, runner: web.AppRunner, host: str, port: int):
        self.runner, self.host, self.port = runner, host, port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_status_page(provider: Provider, host: str = "127.0.0.1", port: int = 8765,
                            token: str | None = None, refresh_s: int = 5) -> StatusPage:
    """Serve the page until `stop()`. Port 0 picks a free port (see `.port`).

    InputError (exit 2 at the CLI) when a non-loopback host has no token or the port cannot be
    bound (in use, not permitted), naming the option to change.
    """
    if not token and not is_loopback(host):
        raise InputError(f"status_page.host {host}: serving beyond this machine needs a token; "
                         "set the environment variable named by status_page.token_env")
    runner = web.AppRunner(make_app(provider, token, refresh_s), access_log=None,
                           handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise InputError(f"status_page.port {port} on {host}: cannot listen "
                         f"({e.strerror or e}); choose another port") from None
    bound = port
    for s in runner.addresses:
        if isinstance(s, tuple) and len(s) >= 2:
            bound = int(s[1])
            break
    return StatusPage(runner, host, bound)


# -- rendering ------------------------------------------------------------------------------
def _t(ts_ms: int | None) -> str:
    if not ts_ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts_ms / 1000))


def _n(x: float, digits: int = 2) -> str:
    return f"{x:,.{digits}f}"


def _signed(x: float, digits: int = 2) -> str:
    cls = "pos" if x > 0 else "neg" if x < 0 else ""
    return f'<span class="{cls}">{x:+,.{digits}f}</span>'


def _table(head: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="muted">{html.escape(empty)}</p>'
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def equity_svg(points: list[tuple[int, float, float]], width: int = 760,
               height: int = 200) -> str:
    """Balance (grey) and equity (blue) over time as an inline SVG with min/max labels."""
    if len(points) < 2:
        return '<p class="muted">equity history: not enough points yet</p>'
    t0, t1 = points[0][0], points[-1][0]
    vals = [v for _, b, e in points for v in (b, e)]
    lo, hi = min(vals), max(vals)
    span_v, span_t = (hi - lo) or 1.0, (t1 - t0) or 1
    pad = 40

    def xy(t: int, v: float) -> str:
        x = pad + (t - t0) / span_t * (width - pad - 10)
        y = 10 + (hi - v) / span_v * (height - 30)
        return f"{x:.1f},{y:.1f}"

    bal = " ".join(xy(t, b) for t, b, _ in points)
    eq = " ".join(xy(t, e) for t, _, e in points)
    return (f'<svg class="chart" width="{width}" height="{height}" role="img" '
            f'aria-label="balance and equity over time">'
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fafafa"/>'
            f'<polyline points="{bal}" fill="none" stroke="#999" stroke-width="1.5"/>'
            f'<polyline points="{eq}" fill="none" stroke="#1f6feb" stroke-width="2"/>'
            f'<text x="2" y="14" font-size="11">{_n(hi)}</text>'
            f'<text x="2" y="{height - 20}" font-size="11">{_n(lo)}</text>'
            f'<text x="{pad}" y="{height - 4}" font-size="11">{html.escape(_t(t0))}</text>'
            f'<text x="{width - 180}" y="{height - 4}" font-size="11">'
            f'{html.escape(_t(t1))}</text></svg>'
            '<p class="muted">blue: equity (balance + unrealized PnL); grey: balance</p>')


STYLE = """body{font:14px system-ui,sans-serif;margin:16px;color:#111;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 6px}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;
text-align:right}th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ccc;border-radius:6px;
padding:8px 14px}.card b{display:block;font-size:18px}.pos{color:#137333}.neg{color:#b3261e}
.muted{color:#666}.down{background:#b3261e;color:#fff;padding:6px 10px;border-radius:4px}
.up{color:#137333}pre{background:#f6f8fa;padding:8px;overflow:auto}"""


def _sections(s: StatusSnapshot, h: str = "h2") -> tuple[str, str]:
    """(cards, sections) of one symbol: every value from the snapshot is HTML-escaped."""
    e = html.escape
    cards = [("balance", _n(s.balance)), ("equity", _n(s.equity)),
             ("unrealized PnL", _signed(s.upnl)),
             ("realized PnL (session)", _signed(s.session_realized_pnl)),
             ("fees (session)", _n(s.session_fees, 4)),
             ("funding (session)", _funding(s)), ("last price", _n(s.last_price, 4))]
    if s.risk is not None:
        cards += [("equity stop", e(s.risk.stop_text(s.ts_ms))),
                  ("unstuck", e(s.risk.unstuck_text()))]
    cards_html = "".join(f'<div class="card">{e(k)}<b>{v}</b></div>' for k, v in cards)
    pos = _table(["side", "size", "entry price", "liq. price", "liq. distance", "unrealized PnL"],
                 [[e(p.side), _n(p.size, 4), _n(p.price, 4),
                   _n(p.liq_price, 4) if p.liq_price else "-",
                   f"{abs(p.liq_price / s.last_price - 1) * 100:.1f} %"
                   if p.liq_price and s.last_price else "-", _signed(p.upnl)]
                  for p in s.positions if p.size], "no open position")
    orders = sorted(s.open_orders, key=lambda o: -o.price)
    ords = _table(["side", "position", "kind", "qty", "price", "distance"],
                  [[e(o.side), e(o.position_side), e(o.kind or "-"), _n(o.qty, 4),
                    _n(o.price, 4), f"{(o.price / s.last_price - 1) * 100:+.2f} %"
                    if s.last_price else "-"] for o in orders], "no open orders")
    fills = _table(["time", "side", "position", "qty", "price", "fee", "realized PnL", "liquidity"],
                   [[e(_t(f.ts_ms)), e(f.side), e(f.position_side), _n(f.qty, 4),
                     _n(f.price, 4), _n(f.fee, 4), _signed(f.realized_pnl),
                     "maker" if f.maker else "<b>taker</b>"] for f in reversed(s.recent_fills)],
                   "no fills this session")
    errs = "".join(f"<li>{e(_t(x.ts_ms))}: {e(x.message)}</li>" for x in reversed(s.errors))
    errs = f"<ul>{errs}</ul>" if errs else '<p class="muted">no errors or warnings</p>'
    chart = equity_svg([(p.ts_ms, p.balance, p.equity) for p in s.equity_history])
    body = (f"<{h}>Positions</{h}>{pos}\n<{h}>Open orders ({len(orders)})</{h}>{ords}\n"
            f"<{h}>Balance and equity over time</{h}>{chart}\n<{h}>Recent fills</{h}>{fills}\n"
            f"<{h}>Last errors and warnings</{h}>{errs}")
    return f'<div class="cards">{cards_html}</div>', body


def _funding(s: StatusSnapshot) -> str:
    """The session's funding (received positive), per side when known, in words a title
    attribute cannot carry on a screenshot: '-1.2300 (long -1.5000, short +0.2700)' (four
    decimals: a grid's funding is often cents, and -0.00 would read as none)."""
    sides = [(n, v) for n, v in (("long", s.session_funding_long),
                                 ("short", s.session_funding_short)) if v]
    per = " (" + ", ".join(f"{n} {v:+,.4f}" for n, v in sides) + ")" if sides else ""
    return _signed(s.session_funding, 4) + f'<span class="muted">{html.escape(per)}</span>'


def _conn(s: StatusSnapshot) -> str:
    if s.connected:
        return '<span class="up">connected</span>'
    since = _t(s.disconnected_since_ms)
    return f'<span class="down">DISCONNECTED since {html.escape(since)}: price may be stale</span>'


def _doc(title: str, refresh_s: int, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{int(refresh_s)}">
<title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body>{body}
</body></html>
"""


def render_html(s: StatusSnapshot, refresh_s: int = 5) -> str:
    """The whole page of one symbol; every value from the snapshot is HTML-escaped."""
    e = html.escape
    cards, sections = _sections(s)
    cfg = e(json.dumps(s.to_dict()["config"], indent=2, default=str))
    head = f"<h1>passivbot: {e(s.symbol)} on {e(s.exchange)} ({e(s.mode)})</h1>"
    return _doc(f"passivbot {s.symbol} {s.exchange}", refresh_s, f"""{head}
<p>market time {e(_t(s.ts_ms))} &middot; {_conn(s)} &middot; running since {e(_t(s.started_ms))}
&middot; read-only, refreshes every {int(refresh_s)} s</p>
{cards}
{sections}
<h2>Config in use</h2><pre>{cfg}</pre>""")


def render_account_html(a: AccountSnapshot, refresh_s: int = 5) -> str:
    """The page of several symbols of one account: the wallet, then a section per symbol."""
    e = html.escape
    names = ", ".join(s.symbol for s in a.symbols)
    cards = [("balance", _n(a.balance)), ("equity", _n(a.equity)),
             ("unrealized PnL", _signed(a.upnl)),
             ("realized PnL (session)", _signed(sum(s.session_realized_pnl for s in a.symbols))),
             ("fees (session)", _n(sum(s.session_fees for s in a.symbols), 4)),
             ("funding (session)", _signed(sum(s.session_funding for s in a.symbols), 4))]
    cards_html = "".join(f'<div class="card">{e(k)}<b>{v}</b></div>' for k, v in cards)
    parts = []
    for s in a.symbols:
        c, sections = _sections(s, "h3")
        parts.append(f'<section id="{e(s.symbol)}"><h2>{e(s.symbol)}</h2>'
                     f'<p>{_conn(s)} &middot; running since {e(_t(s.started_ms))}</p>'
                     f'{c}\n{sections}</section>')
    cfg = e(json.dumps({s.symbol: s.to_dict()["config"] for s in a.symbols}, indent=2,
                       default=str))
    head = f"<h1>passivbot: {len(a.symbols)} symbols on {e(a.exchange)} ({e(a.mode)})</h1>"
    return _doc(f"passivbot {a.exchange} {len(a.symbols)} symbols", refresh_s, f"""{head}
<p>{e(names)} &middot; market time {e(_t(a.ts_ms))} &middot; one wallet
&middot; read-only, refreshes every {int(refresh_s)} s</p>
<div class="cards">{cards_html}</div>
{"".join(parts)}
<h2>Config in use</h2><pre>{cfg}</pre>""")
