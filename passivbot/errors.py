"""Exceptions grouped by what the caller should do about them.

- `ConfigError`: a human must fix a config file; retrying is pointless. CLI scripts turn it
  into a readable message and exit code 2 (see `passivbot.cli.run_cli`).
- Later modules add `RetryableError` (network, rate limit: back off and retry) and
  `StopError` (unrecoverable: stop the bot cleanly) beside it, all under `PassivbotError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class _Missing:
    """Marker for "no value was given" (distinct from JSON null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class PassivbotError(Exception):
    """Base of every error this package raises on purpose."""


class InputError(PassivbotError):
    """A human must fix an input (a config, a key file, a date range the data does not cover);
    retrying is pointless. CLI scripts print the message and exit 2, never a traceback."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in one config file: where (file, key path), what was given, what is allowed.

    `key` is a dotted path such as `long.rentry_pprice_dist` or `starting_configs[0]`; empty
    when the problem concerns the whole file (unreadable, malformed JSON). `value` is MISSING
    when the key was absent.
    """

    file: str
    key: str
    value: Any
    message: str

    def line(self) -> str:
        """The issue as one line, without the file name (the error groups issues by file)."""
        if not self.key:
            return self.message
        if self.value is MISSING:
            return f"{self.key}: {self.message}"
        return f"{self.key} = {show_value(self.value)}: {self.message}"


def show_value(value: Any) -> str:
    """A value as the user wrote it in JSON (true, "abc", 0.5), truncated if long."""
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ConfigError(InputError, ValueError):
    """A config is invalid: fix the file. Holds every issue found, not just the first."""

    def __init__(self, issues: list[ConfigIssue] | tuple[ConfigIssue, ...]):
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        super().__init__(self.format())

    @property
    def files(self) -> tuple[str, ...]:
        """Files with issues, in first-seen order."""
        return tuple(dict.fromkeys(i.file for i in self.issues))

    def format(self) -> str:
        """`config error in FILE:` then one indented line per issue, for each file."""
        blocks = []
        for f in self.files:
            lines = [f"config error in {f}:"]
            lines += [f"  {i.line()}" for i in self.issues if i.file == f]
            blocks.append("\n".join(lines))
        return "\n".join(blocks) if blocks else "config error"
