"""The API key file (`api-keys.json`): `{"NAME": {"exchange": "binance", "key": "...",
"secret": "..."}}`, read and checked before the bot sends its first request.

Every problem is a ConfigError naming the file and the user (exit 2 via passivbot.cli), and no
message ever quotes a key or a secret: they are described (length, which character is wrong)
but never shown. A key with a newline, a NUL or another control character (a copy-paste slip)
is refused here, not deep inside the HTTP client where it would become a traceback.
"""

from __future__ import annotations

import stat
import unicodedata
from pathlib import Path

from passivbot.config.schema import parse_json_text
from passivbot.errors import MISSING, ConfigError, ConfigIssue

__all__ = ["load_api_keys", "check_secret_text"]


def _issue(path: Path | str, key: str, message: str, value=MISSING) -> ConfigError:
    return ConfigError([ConfigIssue(str(path), key, value, message)])


def check_secret_text(text: str) -> str | None:
    """Why `text` cannot be an API key or secret, or None when it can. Never quotes `text`.

    HTTP headers and HMAC inputs must be printable ASCII without spaces; exchanges issue keys
    of letters, digits and a few symbols, so anything else is a paste mistake.
    """
    if text != text.strip():
        return "has leading or trailing whitespace (a copy-paste slip?): remove it"
    for i, ch in enumerate(text):
        if ch == "\n" or ch == "\r":
            return f"contains a line break at character {i + 1}: keep the key on one line"
        if ch == "\x00":
            return f"contains a NUL character at character {i + 1}"
        if unicodedata.category(ch).startswith("C"):
            return f"contains a control character (U+{ord(ch):04X}) at character {i + 1}"
        if ch.isspace():
            return f"contains whitespace at character {i + 1}"
        if not ch.isascii():
            return (f"contains a non-ASCII character (U+{ord(ch):04X}) at character {i + 1}: "
                    "exchange keys are plain ASCII")
    return None


def load_api_keys(path: Path, user: str, exchange: str) -> tuple[str, str, list[str]]:
    """(key, secret, warnings) of `user` in the key file `path` for `exchange`.

    Raises ConfigError (file, user and what to do) for a missing or unreadable file, malformed
    or absurd JSON (nested 50,000 deep, a 5,000-digit integer), a missing user, an exchange
    mismatch, an empty key or one with a newline/NUL/control character. A file readable by
    group or others is a warning (the caller prints it), as ssh does for private keys.
    """
    warnings: list[str] = []
    if not path.is_file():
        raise _issue(path, "", f"key file not found: {path} (create it with "
                     f'{{"{user}": {{"exchange": "{exchange}", "key": "...", "secret": "..."}}}}'
                     " or pass --api-keys PATH)")
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append(f"WARNING: {path} is readable by group/others (mode {oct(mode & 0o777)});"
                        f" run: chmod 600 {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _issue(path, "", "cannot read key file: not UTF-8 text") from None
    except OSError as e:
        raise _issue(path, "", f"cannot read key file: {e.strerror or type(e).__name__}") from None
    data, problem = parse_json_text(text)
    if problem:  # the message never quotes the file's content (it holds secrets)
        raise _issue(path, "", f"cannot read key file: {problem}")
    if not isinstance(data, dict):
        raise _issue(path, "", "key file must be a JSON object of users")
    if user not in data:
        names = ", ".join(sorted(data)) or "none"
        raise _issue(path, user, f"user not found in key file (users: {names})")
    entry = data[user]
    if not isinstance(entry, dict):
        raise _issue(path, user, "must be an object with exchange, key, secret")
    ex = entry.get("exchange")
    if ex != exchange:
        shown = ex if isinstance(ex, str) and len(ex) < 40 else type(ex).__name__
        raise _issue(path, f"{user}.exchange", f"exchange mismatch: the key pair is for "
                     f"{shown!r}, but the bot was started for {exchange!r}")
    for k in ("key", "secret"):
        v = entry.get(k)
        if not isinstance(v, str) or not v:
            raise _issue(path, f"{user}.{k}", "missing or empty (must be a non-empty string)")
        why = check_secret_text(v)
        if why:
            raise _issue(path, f"{user}.{k}", f"{why} (value not shown)")
    return entry["key"], entry["secret"], warnings
