"""The bounded-loss state the live bot persists: what `passivbot.risk` needs to decide alike
after a restart (the backtester carries the same four numbers in its loop).

- `peak_balance`: highest wallet balance seen (quote); the unstuck allowance is a share of it;
- `unstuck_loss`: realized unstuck loss per side [long, short] (quote, >= 0, never decreases);
- `peak_equity`: running peak of close equity, as `risk.equity_stop_nb` returns it (quote);
- `stop_until_ms`: 0 = not stopped, else no entries before this exchange time (ms);
  `risk.STOP_FOREVER` = until a person clears it (`start_bot.py ... --clear-equity-stop`);
- `close_pending`: the stop fired and its market closes are not yet confirmed flat (a restart
  in between sends them again);
- `symbols` (the account file of a multi-symbol bot, `live/multi_risk.py`, only):
  {"SYMBOL": [long, short]}, each symbol side's realized unstuck loss; the four numbers above
  are then the account's (peak wallet balance, account equity peak, one stop for every symbol)
  and `unstuck_loss` is unused. A one-symbol file has no `symbols` key.

Why a file: a bot restarted in the middle of a stop's cool-down must not reopen positions
because it forgot it had stopped. Written atomically (a temp file in the same folder, fsync,
os.replace), so a crash mid-write leaves the previous state, never half a file. A file that
exists but cannot be read is an error naming the file (never a silent reset to "not stopped").
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from passivbot.exchanges.errors import StopError

VERSION = 1


class RiskStateError(StopError):
    """The risk state file exists but is unreadable or invalid: the bot must not trade on a
    guess (it could reopen during a stop). Fix or delete the file deliberately."""


@dataclass
class RiskState:
    peak_balance: float = 0.0
    unstuck_loss: list[float] = field(default_factory=lambda: [0.0, 0.0])
    peak_equity: float = 0.0
    stop_until_ms: int = 0
    close_pending: bool = False
    symbols: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> str:
        d = asdict(self)
        if not d["symbols"]:
            del d["symbols"]  # a one-symbol file is as it always was
        return json.dumps({"version": VERSION, **d}, indent=1, sort_keys=True)


def _bad(path: Path, key: str, why: str) -> RiskStateError:
    return RiskStateError(f"risk state file {path}: {key}: {why}; the bot will not trade on a "
                          f"guess (an equity stop may be in force): restore the file, or delete "
                          f"it to start from a fresh state")


def _losses(path: Path, key: str, ul) -> list[float]:
    """[long, short] realized unstuck losses: two numbers >= 0."""
    if (not isinstance(ul, list) or len(ul) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0.0
                       for x in ul)):
        raise _bad(path, key, f"must be [long, short], two numbers >= 0, got {ul!r}")
    return [float(ul[0]), float(ul[1])]


def load_risk_state(path: str | Path) -> RiskState:
    """The persisted state, or a fresh one when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return RiskState()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(path, "(file)", f"cannot be read as JSON ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise _bad(path, "(file)", "must be a JSON object")
    if data.get("version") != VERSION:
        raise _bad(path, "version", f"must be {VERSION}, got {data.get('version')!r}")
    st = RiskState()
    for key in ("peak_balance", "peak_equity"):
        v = data.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not v >= 0.0:
            raise _bad(path, key, f"must be a number >= 0, got {v!r}")
        setattr(st, key, float(v))
    st.unstuck_loss = _losses(path, "unstuck_loss", data.get("unstuck_loss"))
    syms = data.get("symbols", {})
    if not isinstance(syms, dict) or not all(isinstance(k, str) for k in syms):
        raise _bad(path, "symbols", f"must be an object {{SYMBOL: [long, short]}}, got {syms!r}")
    st.symbols = {k: _losses(path, f"symbols.{k}", v) for k, v in syms.items()}
    su = data.get("stop_until_ms")
    if not isinstance(su, int) or isinstance(su, bool) or su < 0:
        raise _bad(path, "stop_until_ms", f"must be an integer >= 0 (ms), got {su!r}")
    st.stop_until_ms = su
    cp = data.get("close_pending")
    if not isinstance(cp, bool):
        raise _bad(path, "close_pending", f"must be true or false, got {cp!r}")
    st.close_pending = cp
    return st


def save_risk_state(path: str | Path, state: RiskState) -> None:
    """Write `state` atomically: temp file in the same folder, fsync, os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(state.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def clear_equity_stop(path: str | Path) -> RiskState:
    """A person's deliberate clear: not stopped, equity peak re-based at the next candle
    (the unstuck losses, per symbol too, and the peak balance are kept: the allowance is over
    the whole run). The same for a one-symbol file and a multi-symbol account's."""
    st = load_risk_state(path)
    st.stop_until_ms, st.close_pending, st.peak_equity = 0, False, 0.0
    save_risk_state(path, st)
    return st
