"""Render the schema tables as markdown: `python3 -m passivbot.config.docs > docs/configs.md`.
A test checks the committed file matches, so the docs cannot drift from the validation."""

from __future__ import annotations

from passivbot.config.backtest import BACKTEST_SCHEMA, PER_EXCHANGE
from passivbot.config.live import LIVE_SCHEMA
from passivbot.config.multi import MULTI_DOC
from passivbot.config.schema import FieldSpec
from passivbot.config.services import ALERTS_FIELDS, STATUS_PAGE_FIELDS

_SCOPES = {
    "top": "top level", "side": "inside `long` and `short`", "optimize": "inside `optimize`",
    "constraints": "inside `optimize.constraints`", "alerts": "inside `alerts`",
    "status_page": "inside `status_page`",
}

# Typical ranges are the optimizer's bounds in backtest_configs/demo.json (what a search on
# the bundled data explores), not limits: the schema table gives the hard limits.
STRATEGY = """\
## The strategy, parameter by parameter

The bot runs a grid in hedge mode: a long and a short position at once on one symbol, each
side driven by its own keys (short mirrors long: "below" for long is "above" for short).
Every ratio is a plain fraction: `0.004` is 0.4 %, `0.5` is 50 %. Writing a percent where a
ratio is meant (`min_markup 0.4` = 40 %) passes validation but `python3 -m passivbot.config`
prints a `warning:` line for it. "Typical" below is the range the shipped optimizer configs
search (`backtest_configs/demo.json`); the table above gives the hard limits.

| key | unit | what it does | example (ETH-J1) | typical |
| --- | --- | --- | --- | --- |
| `leverage` | x | set on the exchange for both sides; caps how much position the wallet can carry (each side's `wallet_exposure_limit`, and their sum when both trade, must not exceed it). It does not change profit or the liquidation price of a given position: those follow from the position and the balance (cross margin). | 7 | 3 - 20 |
| `enabled` | - | trade this side; a disabled side places no orders (an open position is left alone) | true | - |
| `wallet_exposure_limit` | ratio of the wallet balance | the side's risk budget: the position's cost (size x price) never exceeds balance x this. 0.5 = a position worth half the wallet. The largest lever on both return and risk: a higher limit buys more on the way down, and sits closer to liquidation. | long 0.5, short 0.25 | 0.1 - 1.0 (long), 0.05 - 0.5 (short) |
| `ema_span_0`, `ema_span_1` | minutes of 1m candles | two exponential moving averages of the close; the lower of the two (long) or the higher (short) is where the first entry is placed. 240 = 4 hours. Longer spans enter later and less often. | 240, 720 | 60 - 1440, 240 - 4320 |
| `initial_qty_pct` | ratio of the exposure budget | first entry cost = balance x `wallet_exposure_limit` x this. 0.02 = 2 % of the budget. Raised to the exchange minimum order (20 USDT on Binance ETHUSDT) when smaller: `python3 -m passivbot.config` warns, with the size it will really be. | 0.02 | 0.005 - 0.05 |
| `initial_eprice_ema_dist` | ratio of the price | first entry this far beyond the EMA band: long at lower band x (1 - dist). 0.003 = 0.3 % below the band. Negative values enter inside the band. | 0.003 | -0.01 - 0.01 |
| `ddown_factor` | ratio of the position size | each re-entry buys position size x this (the martingale factor). 0.8 = add 80 % of what is held; 1 doubles the position each time. | 0.8 | 0.1 - 2.0 |
| `rentry_pprice_dist` | ratio of the price | grid spacing: the next re-entry is this far below (long) the position's average price. 0.02 = 2 %. | 0.02 | 0.005 - 0.05 |
| `rentry_pprice_dist_wallet_exposure_weighting` | - | widens the spacing as the position grows: spacing = `rentry_pprice_dist` x (1 + exposure / limit x this). 1 = spacing doubles at full exposure; 0 = fixed spacing. | 1.0 | 0 - 10 |
| `min_markup` | ratio of the price | first take-profit order at position price x (1 + this) for long. 0.004 = 0.4 %. Must exceed the round-trip fee (2 x maker fee = 0.04 % on Binance VIP 0) to earn anything. | 0.004 | 0.001 - 0.01 |
| `markup_range` | ratio of the price | the take-profit orders are spread from `min_markup` to `min_markup` + this. 0.012 = up to 1.6 % with min_markup 0.004. 0 = one price. | 0.012 | 0 - 0.03 |
| `n_close_orders` | orders | how many reduce-only take-profit orders share the position over that range | 5 | 1 - 10 |

A worked example (ETH-J1, long, 1000 USDT balance): budget 1000 x 0.5 = 500 USDT; first
entry 500 x 0.02 = 10 USDT, raised to Binance's 20 USDT minimum; a re-entry 2 % below the
position price buys 0.8 x the position; take-profits from +0.4 % to +1.6 % in 5 orders.

### The shipped configs on the bundled data

Both shipped live configs are examples of the format, not recommendations: on the bundled
Binance ETHUSDT candles (2025-05-05 .. 2025-06-24, 50 days, 1000 USDT, VIP 0 fees) both lose.
Measured with `python3 backtest.py backtest_configs/demo.json -c live_settings/NAME.json`
(2026-11-27, engine of this commit: the re-pricing tolerance 0.001 of a flat side's initial
entry, the one-tick passive rule, the stop's close at the open one step through the book,
funding and EMA warm-up included; rerun to check yours):

| config | gain | max drawdown | max hours stuck long / short | fills | fees paid | max exposure long / short |
| --- | --- | --- | --- | --- | --- | --- |
| `ETH-J1.json` | -2.90 % | 10.68 % | 76.8 / 1120.4 | 558 | 3.20 | 0.499 / 0.249 |
| `default.json` (equity stop 0.1) | -4.66 % | 11.82 % | 76.9 / 69.2 | 1075 | 6.24 | 0.498 / 0.500 |

`default.json` ships with the equity stop on (see "Bounded loss" below: without it the same
run loses 8.92 % with a 22.59 % drawdown and a short stuck 1089 hours).

The wallet balance grows (the take-profits pay) while the short side holds a losing position
for most of the 1200 hours as ETH rises: the loss is unrealized, which is why equity ends below
the start. At 1000 USDT both configs' first entries are raised to the 20 USDT minimum (2x the
configured long size, 4x ETH-J1's short); `python3 -m passivbot.config backtest_configs/demo.json`
says so. The optimizer (`python3 backtest.py backtest_configs/demo.json`) searches for better.
"""

BOUNDED_LOSS = """\
## Bounded loss: auto-unstuck and the equity stop

A grid loses money one way: a position that keeps averaging down against a trend gets stuck
and, if the trend goes on, liquidated. Two rules bound that loss; both are off (0) unless set,
and both are decided by the kernels in `passivbot/risk.py`, which the backtester and the live
bot call alike.

**Auto-unstuck** (per side, keys `unstuck_*` inside `long`/`short`). When the side's wallet
exposure is above `unstuck_threshold` x `wallet_exposure_limit`, one extra reduce-only limit
order (fill kind `unstuck_close`) rests at `unstuck_ema_dist` beyond the EMA band (long:
upper band x (1 + dist); short: lower band x (1 - dist); never across the last price) for
`unstuck_close_pct` of the position, even below the position price (a loss). The take-profit
grid covers the rest of the position, so all closes still sum to the position. The realized
loss of unstuck closes (pnl after fee) of a side totals at most `unstuck_loss_allowance_pct`
x the peak wallet balance over the whole run; each order is cut (rounded down) so the loss it
would realize at its price fits the allowance left, and none is placed when not even the
exchange minimum fits. Profits raise the peak and so the allowance; a loss never gives
allowance back. `unstuck_threshold`, `unstuck_close_pct` and `unstuck_loss_allowance_pct`
are all > 0 or all 0 (a partly set rule is an error, not a silently disabled one).

**Equity stop** (top level). Equity is the wallet balance plus both sides' unrealized pnl at
the close of each 1-minute candle. When it falls more than `equity_stop_drawdown` below its
peak, every order is cancelled, both positions are closed at market (fill kind `stop_close`;
live, reduce-only market orders) and no entry is placed for `equity_stop_cooldown_minutes` (0 =
until a person clears the stop). **What the backtest charges for the close**: the next candle's
open moved one price step against the position (a long sells at open - step, a short buys at
open + step), after that open's funding, with the taker fee. That is what a market order pays
on the venues' book, one step wide around the last trade: it takes the far side
(`fills.market_price_nb`, the one rule: the emulator fills every market order that arrives at a
candle's open at the same price, in both of its modes; e.g. a short of 1.12 ETH closed at an open
of 2428.85 pays 2428.86, and the taker fee 0.05 % x 1.12 x 2428.86 = 1.36 USDT). During the
cool-down the peak follows equity, so trading resumes from
a fresh peak instead of firing again at once: the stop bounds each fall from the peak since the
last stop, and a config that keeps losing stops again after each cool-down. The live bot keeps
the stop in its state file: a restart during the cool-down does not reopen anything. A fall can
exceed the limit by the firing candle's move, the gap to the next open and the closing fee.

A worked example (long, 1000 USDT balance, peak balance 1100, 8 USDT already lost to unstuck
closes): `wallet_exposure_limit` 0.5, position 0.25 ETH at 2000 (exposure 0.5, the whole
budget), EMA band 1750 .. 1800, last price 1790, with

```json
"unstuck_threshold": 0.8, "unstuck_close_pct": 0.1, "unstuck_ema_dist": 0.005,
"unstuck_loss_allowance_pct": 0.01
```

exposure 0.5 > 0.8 x 0.5 = 0.4, so the bot wants to sell 10 % of 0.25 = 0.025 ETH at
1800 x 1.005 = 1809.00. Each ETH sold there loses 2000 - 1809 = 191 plus the maker fee
0.0002 x 1809 = 0.36, 191.36 in all; the allowance left is 0.01 x 1100 - 8 = 3 USDT, so the
order is cut to 3 / 191.36 = 0.0157, rounded down to 0.015 ETH (loss 2.87). The next unstuck
close can lose at most 0.13 USDT, less than the 5 USDT minimum order can carry at that price,
so none is placed until the peak balance rises. With `"equity_stop_drawdown": 0.2,
"equity_stop_cooldown_minutes": 1440` and a peak equity of 1100, the first candle closing with
equity below 880 closes both positions and pauses entries for 24 hours.

### Measured on the bundled data

`python3 bench/bounded_loss.py` (measured 2026-11-27, engine of this commit: the re-pricing
tolerance 0.001, the one-tick passive rule, the stop's close at the open one step through the
book, SOLUSDT's cited qty step 0.01) backtests one config on the bundled Binance samples
(2025-05-05 .. 2025-06-24, 1000 USDT, VIP 0 fees, funding, leverage and warm-up as
`python3 backtest.py` runs them) four ways: without either rule, with unstuck (0.8, 0.1, 0.005,
0.02: the example above, allowance 2 %), with the stop (0.1, 1440) and with both. Hours stuck =
the longest time a side held a position without a fill.

`live_settings/default.json` (stuck for weeks on ETH and BTC; 2026-11-27, engine of this commit):

| symbol | variant | liquidated | max drawdown | hours stuck long / short | gain | unstuck closes (loss) | stops |
| --- | --- | --- | --- | --- | --- | --- | --- |
| ETHUSDT | off | no | 22.59 % | 76.9 / 1088.5 | -8.92 % | 0 (0.00) | 0 |
| ETHUSDT | unstuck | no | 22.03 % | 28.6 / 1054.8 | -9.43 % | 12 (23.76) | 0 |
| ETHUSDT | stop | no | 11.82 % | 76.9 / 69.2 | -4.66 % | 0 (0.00) | 1 |
| ETHUSDT | both | no | 11.82 % | 26.3 / 19.5 | -7.46 % | 31 (23.92) | 1 |
| BTCUSDT | off | no | 6.22 % | 79.5 / 1112.6 | -0.57 % | 0 (0.00) | 0 |
| BTCUSDT | unstuck | no | 5.23 % | 71.3 / 977.7 | 1.02 % | 10 (22.72) | 0 |
| BTCUSDT | stop | no | 6.22 % | 79.5 / 1112.6 | -0.57 % | 0 (0.00) | 0 |
| BTCUSDT | both | no | 5.23 % | 71.3 / 977.7 | 1.02 % | 10 (22.72) | 0 |
| SOLUSDT | off | no | 9.28 % | 599.1 / 677.5 | -2.05 % | 0 (0.00) | 0 |
| SOLUSDT | unstuck | no | 8.71 % | 280.3 / 492.3 | -4.31 % | 8 (40.85) | 0 |
| SOLUSDT | stop | no | 9.28 % | 599.1 / 677.5 | -2.05 % | 0 (0.00) | 0 |
| SOLUSDT | both | no | 8.71 % | 280.3 / 492.3 | -4.31 % | 8 (40.85) | 0 |
| XRPUSDT | off | no | 8.11 % | 18.0 / 392.1 | 2.25 % | 0 (0.00) | 0 |
| XRPUSDT | unstuck | no | 4.08 % | 18.0 / 42.5 | 0.95 % | 15 (15.10) | 0 |
| XRPUSDT | stop | no | 8.11 % | 18.0 / 392.1 | 2.25 % | 0 (0.00) | 0 |
| XRPUSDT | both | no | 4.08 % | 18.0 / 42.5 | 0.95 % | 15 (15.10) | 0 |
| BNBUSDT | off | no | 1.04 % | 30.1 / 70.2 | 1.29 % | 0 (0.00) | 0 |
| BNBUSDT | unstuck | no | 1.04 % | 30.1 / 70.2 | 1.29 % | 0 (0.00) | 0 |
| BNBUSDT | stop | no | 1.04 % | 30.1 / 70.2 | 1.29 % | 0 (0.00) | 0 |
| BNBUSDT | both | no | 1.04 % | 30.1 / 70.2 | 1.29 % | 0 (0.00) | 0 |

The same config with `wallet_exposure_limit` 3.5 on both sides (`--wallet-exposure-limit 3.5`;
leverage 7 accepts it), which is liquidated on ETHUSDT (2026-11-27, engine of this commit):

| symbol | variant | liquidated | max drawdown | hours stuck long / short | gain | unstuck closes (loss) | stops |
| --- | --- | --- | --- | --- | --- | --- | --- |
| ETHUSDT | off | yes | 100.00 % | 6.1 / 18.1 | -100.00 % | 0 (0.00) | 0 |
| ETHUSDT | unstuck | yes | 100.00 % | 6.1 / 18.1 | -100.00 % | 0 (0.00) | 0 |
| ETHUSDT | stop | no | 28.37 % | 18.6 / 21.4 | -23.10 % | 0 (0.00) | 4 |
| ETHUSDT | both | no | 28.37 % | 18.6 / 21.4 | -23.10 % | 0 (0.00) | 4 |
| BTCUSDT | off | no | 42.32 % | 64.7 / 534.5 | 8.34 % | 0 (0.00) | 0 |
| BTCUSDT | unstuck | no | 41.10 % | 64.7 / 391.3 | 6.32 % | 8 (20.97) | 0 |
| BTCUSDT | stop | no | 11.19 % | 64.7 / 60.0 | -1.38 % | 0 (0.00) | 1 |
| BTCUSDT | both | no | 11.19 % | 64.7 / 60.0 | -1.38 % | 0 (0.00) | 1 |
| SOLUSDT | off | no | 66.69 % | 74.3 / 204.6 | 33.00 % | 0 (0.00) | 0 |
| SOLUSDT | unstuck | no | 66.54 % | 59.8 / 251.4 | 26.70 % | 9 (44.69) | 0 |
| SOLUSDT | stop | no | 13.17 % | 18.2 / 18.8 | -2.08 % | 0 (0.00) | 4 |
| SOLUSDT | both | no | 13.17 % | 18.2 / 18.8 | -2.06 % | 0 (0.00) | 4 |
| XRPUSDT | off | no | 57.23 % | 27.6 / 48.5 | 14.95 % | 0 (0.00) | 0 |
| XRPUSDT | unstuck | no | 55.42 % | 27.6 / 42.8 | 12.52 % | 10 (20.36) | 0 |
| XRPUSDT | stop | no | 15.85 % | 27.6 / 42.8 | 3.52 % | 0 (0.00) | 1 |
| XRPUSDT | both | no | 15.85 % | 27.6 / 42.8 | 3.52 % | 0 (0.00) | 1 |
| BNBUSDT | off | no | 26.75 % | 42.2 / 57.3 | 7.63 % | 0 (0.00) | 0 |
| BNBUSDT | unstuck | no | 20.25 % | 42.2 / 43.5 | 4.83 % | 11 (20.05) | 0 |
| BNBUSDT | stop | no | 12.81 % | 42.4 / 43.5 | -6.74 % | 0 (0.00) | 1 |
| BNBUSDT | both | no | 12.81 % | 42.4 / 43.5 | -6.74 % | 0 (0.00) | 1 |

What the figures say: the stop turns the ETHUSDT liquidation into a 23.1 % loss, and brings the
other runs' max drawdown from 27-67 % to 11-16 % with one to four stops (the limit is per stop:
28.4 % on ETHUSDT after four), at the price of gain wherever the market later came back (the
positions it closed would have recovered: SOLUSDT +33.0 % without it, -2.1 % with it after four
stops; BNBUSDT +7.6 % -> -6.7 %). Unstuck frees stuck positions (hours stuck down on ETH, BTC,
SOL, XRP) for a loss bounded by its allowance; on this one sample its effect on gain is mixed
(BTC +1.6 points, SOL -2.3).

### In the shipped configs

A rule is on in a shipped config only where the backtests above and below defend it:

- `default.json`: **the equity stop is on** (`equity_stop_drawdown` 0.1,
  `equity_stop_cooldown_minutes` 1440). On the bundled samples it fired only where the grid
  was losing most (ETHUSDT: -8.92 % -> -4.66 %, drawdown 22.59 % -> 11.82 %, the short no
  longer stuck 1089 hours; on 2025-05-05 .. 2025-06-03 -15.88 % -> -6.76 %), never on BTCUSDT,
  SOLUSDT, XRPUSDT or BNBUSDT (identical runs), and once on ENAUSDT (2025-05-05 .. 2025-06-03,
  docs/backtest.md: -0.55 % -> -3.01 %, drawdown 29.97 % -> 13.90 %). With exposure 3.5 it is
  what keeps ETHUSDT and ENAUSDT from liquidation. Unstuck stays off: its effect on gain is
  mixed (ETH -0.5, BTC +1.6, SOL -2.3, XRP -1.3 points), so no value here is defended.
- `ETH-J1.json`: **both off**. Measured the same way (2026-11-27, engine of this commit;
  `python3 bench/bounded_loss.py --config ETH-J1 --symbols ETHUSDT,BTCUSDT,SOLUSDT`):

| symbol | variant | liquidated | max drawdown | hours stuck long / short | gain | unstuck closes (loss) | stops |
| --- | --- | --- | --- | --- | --- | --- | --- |
| ETHUSDT | off | no | 10.68 % | 76.8 / 1120.4 | -2.90 % | 0 (0.00) | 0 |
| ETHUSDT | unstuck | no | 10.19 % | 28.6 / 1089.2 | -3.24 % | 12 (22.37) | 0 |
| ETHUSDT | stop | no | 10.88 % | 76.4 / 131.9 | -6.16 % | 0 (0.00) | 1 |
| ETHUSDT | both | no | 10.98 % | 30.3 / 101.0 | -6.75 % | 14 (22.90) | 1 |
| BTCUSDT | off | no | 2.23 % | 249.3 / 1161.7 | 0.34 % | 0 (0.00) | 0 |
| BTCUSDT | unstuck | no | 2.23 % | 124.1 / 1161.7 | -1.15 % | 6 (12.90) | 0 |
| BTCUSDT | stop | no | 2.23 % | 249.3 / 1161.7 | 0.34 % | 0 (0.00) | 0 |
| BTCUSDT | both | no | 2.23 % | 124.1 / 1161.7 | -1.15 % | 6 (12.90) | 0 |
| SOLUSDT | off | no | 9.99 % | 604.8 / 717.3 | -3.41 % | 0 (0.00) | 0 |
| SOLUSDT | unstuck | no | 8.88 % | 276.6 / 717.3 | -2.68 % | 5 (20.55) | 0 |
| SOLUSDT | stop | no | 9.99 % | 604.8 / 717.3 | -3.41 % | 0 (0.00) | 0 |
| SOLUSDT | both | no | 8.88 % | 276.6 / 717.3 | -2.68 % | 5 (20.55) | 0 |

  Its smaller short budget keeps its drawdown near 10 %, the stop's limit: the stop fired
  once on ETHUSDT at the bottom and doubled the loss (-2.90 % -> -6.16 %, drawdown 10.68 % ->
  10.88 %, not lower), and never fired on BTCUSDT or SOLUSDT; unstuck cost gain on ETHUSDT and
  BTCUSDT (-0.3 and -1.5 points) and helped on SOLUSDT (+0.7). Neither is defended for this
  config.
"""

SERVICES = """\
## Optional sections: `alerts` and `status_page`

Both are off when absent. `alerts.url` may hold a secret (Telegram puts the bot token in the
URL path): it is never printed or logged; `python3 -m passivbot.config` and the bot's start-up
printout show `https://host/<redacted>`. A config copied from such a printout still loads, with
alerts off and a warning. Example (Telegram's bot API is one webhook; any URL that accepts a
JSON POST works with `"format": "json"`):

```json
"alerts": {"url": "https://api.telegram.org/bot<TOKEN>/sendMessage", "format": "telegram",
           "chat_id": "123456789", "events": ["fills", "stops", "errors", "disconnections"],
           "min_interval_s": 10},
"status_page": {"port": 8765}
```

The status page binds `127.0.0.1` by default; binding any other address requires a token,
read at start from the environment variable named by `token_env` (never from the config):
`PASSIVBOT_STATUS_TOKEN=... python3 start_bot.py ...`, then open
`http://127.0.0.1:8765/?token=...`.
"""



def _row(f: FieldSpec) -> str:
    default = "required" if f.required else ("-" if f.default is None else f"`{f.default!r}`")
    if f.default == PER_EXCHANGE:
        default = "per exchange: `passivbot.markets.DEFAULT_FEES`"
    if isinstance(f.default, bool):
        default = f"`{str(f.default).lower()}`"
    allowed = f.allowed_text().replace("|", "\\|")
    return f"| `{f.name}` | {_SCOPES.get(f.scope, f.scope)} | {f.doc} | {f.unit or '-'} | {allowed} | {default} |"


def table(schema: tuple[FieldSpec, ...]) -> str:
    head = "| key | where | meaning | unit | allowed | default |\n| --- | --- | --- | --- | --- | --- |"
    return "\n".join([head, *(_row(f) for f in schema)])


def render() -> str:
    return f"""# Configs

Generated from the schema tables in `passivbot/config/live.py` and
`passivbot/config/backtest.py` by `python3 -m passivbot.config.docs > docs/configs.md`
(a test fails when this file is out of date). Check a file with
`python3 -m passivbot.config PATH`: it prints the config resolved with defaults, or every
problem at once (file, key, value given, what is allowed) and exits with code 2.

Rules for every key: unknown keys are errors (with a "did you mean"); integers may be written
`7.0` but not `7.5`; `true`/`false` are never numbers; NaN and infinities are rejected.

## Live config: `live_settings/NAME.json`

`NAME` is also the key pair's name in `api-keys.json` (see `api-keys.example.json`).
What each strategy key does, with units and typical values: "The strategy, parameter by
parameter" below. `live_settings/default.json` is the neutral template (both sides enabled,
0.5 exposure each, entries at the EMA band, the equity stop on at a 10 % drawdown);
`live_settings/ETH-J1.json` is the example tuned for ETHUSDT (short budget halved, entries
0.3 % beyond the band).

{table(LIVE_SCHEMA)}

`alerts` and `status_page`:

{table(tuple(ALERTS_FIELDS.values()) + tuple(STATUS_PAGE_FIELDS.values()))}

Cross-field rules: each side's `wallet_exposure_limit` <= `leverage`; when both sides are
enabled, long + short `wallet_exposure_limit` <= `leverage` (cross margin: both positions
draw margin from the same wallet). Per side, `unstuck_threshold`, `unstuck_close_pct` and
`unstuck_loss_allowance_pct` are all > 0 or all 0. A `config_version` newer than this passivbot reads is an
error.

## Backtest config: `backtest_configs/NAME.json`

{table(BACKTEST_SCHEMA)}

Cross-field rules: `end_date` after `start_date`; `multi_objective` needs sampler `nsga2`, `nsga3` or
`tpe`; each `starting_configs` entry (relative to the project root) must exist and validate as
a live config (its problems are reported under its own file name).

`optimize.bounds`: `{{"leverage": [lo, hi], "equity_stop_drawdown": [lo, hi],
"equity_stop_cooldown_minutes": [lo, hi], "long": {{KEY: [lo, hi] or [lo, hi, step]}},
"short": {{...}}}}` where KEY is any numeric per-side key of the live schema, the `unstuck_*`
keys included. `lo <= hi`, both inside that key's live range, `step > 0`. Keys not listed keep
the starting config's value. The bounded-loss keys are searched like the others (each
candidate is backtested with its rules, docs/optimize.md): bound `unstuck_threshold`,
`unstuck_close_pct` and `unstuck_loss_allowance_pct` above 0, or turn the rule on in the
starting config, since a candidate with only some of them above 0 is not a valid config.

{STRATEGY}
{BOUNDED_LOSS}
{SERVICES}
{MULTI_DOC}"""


if __name__ == "__main__":
    print(render(), end="")
