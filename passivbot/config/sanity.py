"""Warnings, not errors, for configs that are valid but probably not what the user meant.

Ratios are easy to write as percentages: `min_markup 0.4` is a 40 % take-profit distance, not
0.4 %; `wallet_exposure_limit 5` lets one side hold a position worth five times the wallet.
Both pass validation (someone may mean them), so they are reported as warnings with the
reading in percent and the value the user probably meant. A first entry smaller than the
exchange minimum is raised to it by the calculator (`grid.initial_entry_qty_nb`); the warning
says by how much, so a small account is not silently trading twice its configured size.

`DEFAULT_STARTING_BALANCE` is the one default wallet balance (USDT) of the backtest, the
emulator and the report; other modules should import it rather than write their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from passivbot.config.live import SIDES, LiveConfig

DEFAULT_STARTING_BALANCE = 1000.0


@dataclass(frozen=True)
class Slip:
    """A per-side key whose values above `above` are more likely a percent-for-ratio slip."""

    key: str
    above: float
    meaning: str  # what the ratio is, to say the value in words


SLIPS: tuple[Slip, ...] = (
    Slip("wallet_exposure_limit", 2.0, "a position worth {pct} of the wallet balance"),
    Slip("min_markup", 0.05, "a first take-profit {pct} beyond the position price"),
    Slip("markup_range", 0.2, "take-profit orders spread over {pct}"),
    Slip("rentry_pprice_dist", 0.2, "re-entries {pct} apart"),
    Slip("initial_eprice_ema_dist", 0.1, "a first entry {pct} away from the EMA band"),
    Slip("initial_qty_pct", 0.5, "a first entry of {pct} of the exposure budget"),
)


def _pct(x: float) -> str:
    return f"{x * 100:g} %"


def unit_slip_warnings(cfg: LiveConfig) -> list[str]:
    """One line per enabled side's value that is likely a percent written as a ratio."""
    out = []
    for side in SIDES:
        sc = cfg.side(side)
        if not sc.enabled:
            continue
        for slip in SLIPS:
            v = float(getattr(sc, slip.key))
            if v > slip.above:
                guess = v / 100
                out.append(f"{side}.{slip.key} = {v:g} means {slip.meaning.format(pct=_pct(v))}; "
                           f"values are ratios, not percent: did you mean {guess:g} "
                           f"({_pct(guess)})?")
    return out


def min_entry_warnings(cfg: LiveConfig, balance: float, min_cost: float, min_qty: float = 0.0,
                       price: float = 0.0) -> list[str]:
    """One line per enabled side whose first entry (balance x wallet_exposure_limit x
    initial_qty_pct, in quote) is below the exchange minimum and will be raised to it.

    `min_cost` is the exchange's minimum order value (quote); `min_qty` x `price` is used too
    when a price is known (the larger minimum wins, as in `grid.min_entry_qty_nb`).
    """
    out = []
    floor = max(min_cost, min_qty * price)
    if floor <= 0 or balance <= 0:
        return out
    for side in SIDES:
        sc = cfg.side(side)
        if not sc.enabled:
            continue
        budget = balance * sc.wallet_exposure_limit
        size = budget * sc.initial_qty_pct
        if size >= floor:
            continue
        if floor > budget:
            out.append(f"{side}: the exchange minimum order ({floor:g} USDT) exceeds the whole "
                       f"exposure budget ({balance:g} x {sc.wallet_exposure_limit:g} = "
                       f"{budget:g} USDT): this side will not trade; raise the balance or "
                       f"wallet_exposure_limit")
            continue
        need_pct = floor / budget
        out.append(f"{side}: first entry {balance:g} x {sc.wallet_exposure_limit:g} x "
                   f"{sc.initial_qty_pct:g} = {size:.4g} USDT is below the exchange minimum "
                   f"({floor:g} USDT) and will be raised to it ({floor / size:.2g}x the "
                   f"configured size); set initial_qty_pct >= {need_pct:.4g} or a balance >= "
                   f"{floor / (sc.wallet_exposure_limit * sc.initial_qty_pct):.6g} USDT to size "
                   f"it yourself")
    return out


def config_warnings(cfg: LiveConfig, balance: float | None = None, exchange: str | None = None,
                    price: float = 0.0) -> list[str]:
    """Unit-slip warnings, plus minimum-entry warnings when a balance and an exchange with a
    known offline market spec are given (an unknown symbol simply gives none)."""
    out = unit_slip_warnings(cfg)
    if cfg.alerts is not None and not cfg.alerts.enabled:
        out.append("alerts.url is redacted (copied from a printout?): alerts are off until "
                   "the real URL is pasted back")
    if balance is not None and exchange is not None:
        from passivbot.markets import market_spec

        try:
            spec = market_spec(exchange, cfg.symbol)
        except KeyError:
            return out
        out += min_entry_warnings(cfg, balance, spec.min_cost, spec.min_qty, price)
    return out
