"""Record dtypes, array column indices and small int enums, defined once for every kernel.

Conventions shared by all jitted code:
- prices in quote currency (USDT), quantities in base coin, time in ms since epoch (int64),
  one candle = one minute;
- position sizes are magnitudes (>= 0) for both sides; the side is a separate sign
  (`LONG = 1`, `SHORT = -1`), so one code path serves both sides;
- orders are float64 arrays of shape (n, ORDER_COLS): qty, price, kind.
"""

import numpy as np

# Sides (a sign: long buys to enter, short sells to enter).
LONG = 1
SHORT = -1

# Order / fill kinds.
KIND_INITIAL_ENTRY = 0
KIND_REENTRY = 1
KIND_CLOSE = 2
KIND_LIQUIDATION = 3
# Not an order: a funding payment on one position, recorded as a row of the fill records (as
# Bybit reports it: an execution with execType=Funding) with qty = position size, price = mark
# price, fee = 0 and pnl = the cash flow (negative: paid), so balance = previous + pnl - fee
# holds for every row.
KIND_FUNDING = 4
# Reduce-only closes decided by passivbot.risk: part of a stuck position near the EMA band
# (auto-unstuck, a limit order, maker fee) and the equity stop's market close (taker fee).
KIND_UNSTUCK_CLOSE = 5
KIND_STOP_CLOSE = 6
KIND_NAMES = ("initial_entry", "reentry", "close", "liquidation", "funding", "unstuck_close",
              "stop_close")

# Columns of an order array (float64, shape (n, ORDER_COLS)).
O_QTY = 0
O_PRICE = 1
O_KIND = 2
ORDER_COLS = 3

# Columns of a "book" array: resting orders of both sides, as the fill rule sees them.
B_QTY = 0
B_PRICE = 1
B_KIND = 2
B_SIDE = 3
BOOK_COLS = 4

# Per-side strategy parameters (float64 array of length N_PARAMS), built from a config by
# passivbot.config.side_params(); kernels never see a config dict.
P_ENABLED = 0
P_WALLET_EXPOSURE_LIMIT = 1
P_EMA_SPAN_0 = 2
P_EMA_SPAN_1 = 3
P_INITIAL_QTY_PCT = 4
P_INITIAL_EPRICE_EMA_DIST = 5
P_DDOWN_FACTOR = 6
P_RENTRY_PPRICE_DIST = 7
P_RENTRY_PPRICE_DIST_WE_WEIGHTING = 8
P_MIN_MARKUP = 9
P_MARKUP_RANGE = 10
P_N_CLOSE_ORDERS = 11
N_PARAMS = 12

# The config keys in parameter order (P_ENABLED .. P_N_CLOSE_ORDERS).
PARAM_KEYS = (
    "enabled",
    "wallet_exposure_limit",
    "ema_span_0",
    "ema_span_1",
    "initial_qty_pct",
    "initial_eprice_ema_dist",
    "ddown_factor",
    "rentry_pprice_dist",
    "rentry_pprice_dist_wallet_exposure_weighting",
    "min_markup",
    "markup_range",
    "n_close_orders",
)

# Market specs (float64 array of length N_MARKET).
M_PRICE_STEP = 0
M_QTY_STEP = 1
M_MIN_QTY = 2
M_MIN_COST = 3
# Passive distance: entries rest at least this many price steps inside the last price, closes
# outside it (0: capped at the last price; 1: never at the touch of a one-tick book). Arrays of
# the older length 4 read as 0 (fills.passive_ticks_nb).
M_PASSIVE_TICKS = 4
# Re-pricing tolerance of a flat side's initial entry: its EMA-keyed price is quantized onto a
# geometric grid of this relative step, rounded to the passive side (grid.quantize_passive_nb),
# so the order moves when the EMA band crosses a bucket, not every minute. 0: no quantization;
# arrays of an older length read as 0 (grid.reprice_tol_nb).
M_REPRICE_TOL = 5
N_MARKET = 6
# The tolerance the market specs and the live adapter put in M_REPRICE_TOL (one value for both,
# so a backtest and the live bot quantize alike; docs/live.md says how it was chosen).
DEFAULT_REPRICE_TOL = 0.001
# The passive distance the market specs and the live adapter put in M_PASSIVE_TICKS (one value
# for both): both venues' book is at least one step wide around the last trade.
DEFAULT_PASSIVE_TICKS = 1.0

# Leverage / risk-limit brackets: float64 array (n_tiers, BRACKET_COLS), sorted by
# notional cap ascending; the last cap may be inf.
BR_NOTIONAL_CAP = 0
BR_MMR = 1  # maintenance margin rate
BR_MAINT_AMOUNT = 2  # Binance "cum", Bybit "mmDeduction"
BRACKET_COLS = 3

# Per-side state of the backtest engine: one record per side (index 0 = long, 1 = short), the
# position, the EMAs and what the cached order grids of `passivbot.backtest.book` were made from.
side_dt = np.dtype(
    [
        ("psize", np.float64),  # position size (magnitude)
        ("pprice", np.float64),  # position price
        ("ema0", np.float64),
        ("ema1", np.float64),
        ("alpha0", np.float64),
        ("alpha1", np.float64),
        ("l_ent", np.float64),  # last price the cached entry grid was computed at
        ("l_cls", np.float64),  # last price the cached close grid was computed at
        ("ent_cap", np.float64),  # the entry grid is uncapped while side * (last - cap) >= 0
        ("cls_limit", np.float64),  # the close grid is uncapped while side * (last - limit) <= 0
        ("near_ent", np.float64),  # nearest cached entry price (nan: none)
        ("near_cls", np.float64),  # nearest cached close price (nan: none)
        ("init_price", np.float64),  # flat side: initial entry price (nan: no order)
        ("init_qty", np.float64),  # flat side: its qty when known, -1 when sized lazily
        ("n_ent", np.int64),  # cached entry orders
        ("n_cls", np.int64),  # cached close orders
        ("ent_dirty", np.int64),  # 1: only the first entry level is current (balance moved)
        ("enabled", np.float64),  # P_ENABLED of the side's parameters
    ],
    align=True,
)

# Fill records (backtester output; the emulator reports the same fields).
fill_dt = np.dtype(
    [
        ("minute", np.int64),  # index of the candle in which it filled
        ("timestamp", np.int64),  # that candle's open time, ms
        ("side", np.int8),  # LONG / SHORT
        ("kind", np.int8),  # KIND_*
        ("qty", np.float64),
        ("price", np.float64),
        ("fee", np.float64),  # paid, >= 0 (quote); a liquidation's last row adds the margin
        # lost (negative when the insurance fund covers a gap's deficit)
        ("pnl", np.float64),  # realized, before fee (quote)
        ("psize", np.float64),  # position size after the fill
        ("pprice", np.float64),  # position price after the fill
        ("balance", np.float64),  # wallet balance after the fill
    ],
    align=True,
)
