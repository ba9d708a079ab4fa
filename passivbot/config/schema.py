"""Field specs and the generic, collect-everything validation behind every config schema.

A schema is a table of `FieldSpec` rows (type, bounds, default, one-line doc). The same rows
drive validation, the "resolved" printout, docs/configs.md and the optimizer's bound checks,
so a range is written exactly once.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from passivbot.errors import MISSING, ConfigError, ConfigIssue

REQUIRED: Any = MISSING  # default of a required field

INT, FLOAT, BOOL, STR, CHOICE, OBJECT, LIST = "int", "float", "bool", "str", "choice", "object", "list"


@dataclass(frozen=True)
class FieldSpec:
    """One config key. `lo`/`hi` are None when unbounded; `*_incl` say whether equal is allowed.

    `scope` names the object the key lives in (e.g. "top", "side", "optimize"); `hint` is the
    short meaning appended to range messages, `doc` the one-line description for the docs.
    """

    name: str
    scope: str
    kind: str
    doc: str
    default: Any = REQUIRED
    lo: float | None = None
    hi: float | None = None
    lo_incl: bool = True
    hi_incl: bool = True
    hint: str = ""
    unit: str = ""
    pattern: str | None = None
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def numeric(self) -> bool:
        return self.kind in (INT, FLOAT)

    def range_text(self) -> str:
        """The allowed range, e.g. "> 0 and <= 0.9"; empty when unbounded."""
        parts = []
        if self.lo is not None:
            parts.append(f"{'>=' if self.lo_incl else '>'} {_num(self.lo)}")
        if self.hi is not None:
            parts.append(f"{'<=' if self.hi_incl else '<'} {_num(self.hi)}")
        return " and ".join(parts)

    def allowed_text(self) -> str:
        """What is allowed, in words: "an integer >= 1 and <= 125", "one of 'a', 'b'"."""
        if self.kind == CHOICE:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == STR:
            return f"a string matching {self.pattern}" if self.pattern else "a string"
        if self.kind == BOOL:
            return "true or false"
        if self.kind == OBJECT:
            return "an object"
        if self.kind == LIST:
            return "a list"
        base = "an integer" if self.kind == INT else "a number"
        rng = self.range_text()
        return f"{base} {rng}" if rng else base

    def in_range(self, x: float) -> bool:
        if self.lo is not None and (x < self.lo if self.lo_incl else x <= self.lo):
            return False
        if self.hi is not None and (x > self.hi if self.hi_incl else x >= self.hi):
            return False
        return True

    def range_message(self) -> str:
        msg = f"must be {self.range_text()}"
        return f"{msg} ({self.hint})" if self.hint else msg


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def _type_name(value: Any) -> str:
    return {bool: "bool", int: "integer", float: "number", str: "string", list: "list",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def is_finite(x: int | float) -> bool:
    """math.isfinite that also answers for a JSON integer beyond float range (False)."""
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def coerce(spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
    """Check one value against its spec: (converted value, None) or (None, error message).

    Bools are never numbers (JSON true is not 1); 7.0 is accepted as the integer 7; NaN and
    infinities are rejected.
    """
    k = spec.kind
    if k in (INT, FLOAT):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            extra = " (JSON true/false is not a number)" if isinstance(value, bool) else ""
            return None, f"wrong type: must be {spec.allowed_text()}, got {_type_name(value)}{extra}"
        if not is_finite(value):
            return None, f"must be a finite number, {spec.allowed_text()}"
        if k == INT:
            if isinstance(value, float) and not value.is_integer():
                return None, f"wrong type: must be {spec.allowed_text()}, got a fraction"
            value = int(value)
        else:
            value = float(value)
        if not spec.in_range(value):
            return None, spec.range_message()
        return value, None
    if k == BOOL:
        if not isinstance(value, bool):
            return None, f"wrong type: must be true or false, got {_type_name(value)}"
        return value, None
    if k in (STR, CHOICE):
        if not isinstance(value, str):
            return None, f"wrong type: must be {spec.allowed_text()}, got {_type_name(value)}"
        if spec.pattern and not re.fullmatch(spec.pattern, value):
            hint = f" ({spec.hint})" if spec.hint else ""
            return None, f"must match {spec.pattern}{hint}"
        if k == CHOICE and value not in spec.choices:
            return None, f"must be {spec.allowed_text()}{did_you_mean(value, spec.choices)}"
        return value, None
    if k == OBJECT and not isinstance(value, dict):
        return None, f"wrong type: must be an object {{...}}, got {_type_name(value)}"
    if k == LIST and not isinstance(value, list):
        return None, f"wrong type: must be a list [...], got {_type_name(value)}"
    return value, None


def did_you_mean(word: str, candidates: Any) -> str:
    """"; did you mean 'x'?" for the closest candidate, or "" (difflib, as backtesting.py)."""
    close = difflib.get_close_matches(str(word), list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class Collector:
    """Accumulates issues so validation reports every problem at once."""

    def __init__(self, file: str):
        self.file = file
        self.issues: list[ConfigIssue] = []

    def add(self, key: str, value: Any, message: str) -> None:
        self.issues.append(ConfigIssue(self.file, key, value, message))

    def extend(self, issues: Any) -> None:
        self.issues.extend(issues)

    def raise_if_any(self) -> None:
        if self.issues:
            raise ConfigError(self.issues)


def check_object(
    d: Any, fields: dict[str, FieldSpec], prefix: str, col: Collector
) -> dict[str, Any] | None:
    """Validate a JSON object against `fields`: unknown keys (with did-you-mean), missing
    required keys, then each value. Returns the valid values with defaults filled in (invalid
    ones left out), or None when `d` is not an object at all."""
    where = prefix.rstrip(".")
    if not isinstance(d, dict):
        col.add(where or "(top level)", d if where else MISSING,
                f"wrong type: must be an object {{...}}, got {_type_name(d)}")
        return None
    out: dict[str, Any] = {}
    for key in d:
        if key not in fields:
            allowed = ", ".join(fields)
            hint = did_you_mean(key, fields) or f" (allowed: {allowed})"
            col.add(f"{prefix}{key}", d[key], f"unknown key{hint}")
    for name, spec in fields.items():
        if name not in d:
            if spec.required:
                col.add(f"{prefix}{name}", MISSING,
                        f"missing required key ({spec.allowed_text()}; {spec.doc})")
            else:
                out[name] = spec.default
            continue
        value, err = coerce(spec, d[name])
        if err:
            col.add(f"{prefix}{name}", d[name], err)
        else:
            out[name] = value
    return out


def read_json(path: Path, col: Collector) -> Any:
    """Parse a JSON file; unreadable or malformed files become issues (with line and column)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        col.add("", MISSING, f"file not found: {path}")
        return None
    except (OSError, UnicodeDecodeError) as e:
        col.add("", MISSING, f"cannot read file: {e}")
        return None
    data, problem = parse_json_text(text)
    if problem:
        col.add("", MISSING, problem)
    return data


def parse_json_text(text: str) -> tuple[Any, str | None]:
    """(parsed JSON, None) or (None, what is wrong, in words). Never raises on bad input.

    Beyond malformed JSON, Python's parser raises RecursionError on deep nesting (a few
    thousand `[`) and ValueError on an integer of more than 4,300 digits (its guard against
    quadratic int parsing); no config needs either, so both are input mistakes, not bugs.
    """
    try:
        return json.loads(text), None
    except json.JSONDecodeError as e:
        return None, f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}"
    except RecursionError:
        return None, ("JSON nested too deeply to read (more than a few thousand levels of "
                      "[ or {): a config is at most 3 levels deep; is this the right file?")
    except ValueError as e:  # int digits limit (the only other ValueError json.loads raises)
        what = "an integer with too many digits" if "digits" in str(e) else "unreadable JSON"
        return None, (f"{what} (Python reads at most {sys.get_int_max_str_digits()} "
                      "digits): write numbers as plain decimals, e.g. 0.5 or 1000")
