"""Errors of the data layer, under the package's `PassivbotError`.

`DataError`: candles the caller asked for are not available (not cached and not downloadable,
outside the bundled range, a bad archive). The message says what is missing and the command
that fixes it; CLI scripts print it and exit 2, as for config errors.
"""

from __future__ import annotations

from passivbot.errors import InputError


class DataError(InputError, ValueError):
    """Requested candles are unavailable or invalid; the message says how to get them."""
