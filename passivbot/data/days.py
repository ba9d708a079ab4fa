"""UTC days as the unit of the candle cache: parsing, ranges, ms bounds, and short range text.

Everything is UTC: a day D covers [D 00:00, D+1 00:00) in ms since the epoch, 1440 minutes.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from passivbot.data.errors import DataError

MINUTE_MS = 60_000
DAY_MS = 86_400_000
MINUTES_PER_DAY = 1440
_EPOCH = date(1970, 1, 1)


def parse_day(value: str | date | datetime) -> date:
    """`YYYY-MM-DD` (or a date/datetime) -> date; DataError (a ValueError) naming the value."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise DataError(f"not a date (expected YYYY-MM-DD): {value!r}") from None


def day_start_ms(day: date) -> int:
    """Open time (ms, UTC) of the day's first minute."""
    return (day - _EPOCH).days * DAY_MS


def day_of_ms(ts_ms: int | float) -> date:
    """The UTC day a timestamp (ms) falls in."""
    return _EPOCH + timedelta(days=int(ts_ms) // DAY_MS)


def days_between(start: date, end: date) -> list[date]:
    """Every day in [start, end) (end exclusive), oldest first."""
    return [start + timedelta(days=i) for i in range((end - start).days)]


def format_day_ranges(days: list[date], max_ranges: int = 12) -> str:
    """Days as compact ranges: `2024-01-01..2024-01-31, 2024-03-05` (inclusive ends).

    A long list is cut after `max_ranges` ranges with a count of the rest, so an error about
    a missing year stays one readable line.
    """
    ranges: list[tuple[date, date]] = []
    for d in sorted(set(days)):
        if ranges and (d - ranges[-1][1]).days == 1:
            ranges[-1] = (ranges[-1][0], d)
        else:
            ranges.append((d, d))
    parts = [a.isoformat() if a == b else f"{a.isoformat()}..{b.isoformat()}" for a, b in ranges]
    if len(parts) > max_ranges:
        parts = parts[:max_ranges] + [f"and {len(parts) - max_ranges} more ranges"]
    return ", ".join(parts)
