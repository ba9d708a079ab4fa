"""The API key file: every mistake is a ConfigError naming the file and the user, and no
message ever shows a key or a secret."""

from __future__ import annotations

import json
import os

import pytest

from passivbot.config.keys import check_secret_text, load_api_keys
from passivbot.errors import ConfigError

SECRET = "S3cr3tS3cr3tS3cr3tS3cr3t"


def write(tmp_path, data) -> "os.PathLike":
    p = tmp_path / "keys.json"
    p.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    os.chmod(p, 0o600)
    return p


def entry(**kw):
    return {"tester": {"exchange": "binance", "key": "K" * 20, "secret": SECRET, **kw}}


def test_valid_file_gives_the_pair_and_no_warning(tmp_path):
    assert load_api_keys(write(tmp_path, entry()), "tester", "binance") == ("K" * 20, SECRET, [])


@pytest.mark.parametrize("field,value,needle", [
    ("key", "K" * 10 + "\n" + "K" * 10, "line break at character 11"),
    ("secret", SECRET[:5] + "\x00" + SECRET[5:], "NUL character at character 6"),
    ("secret", SECRET + "\n", "leading or trailing whitespace"),
    ("key", "K" * 5 + "\x1b" + "K", "control character (U+001B) at character 6"),
    ("key", "K" * 5 + " K", "whitespace at character 6"),
    ("secret", "sécret" * 4, "non-ASCII character (U+00E9)"),
    ("secret", "", "missing or empty"),
])
def test_bad_key_or_secret_names_file_and_key_never_the_value(tmp_path, field, value, needle):
    p = write(tmp_path, entry(**{field: value}))
    with pytest.raises(ConfigError) as e:
        load_api_keys(p, "tester", "binance")
    msg = e.value.format()
    assert f"config error in {p}:" in msg and f"tester.{field}" in msg and needle in msg
    body = msg.replace(str(p), "FILE")  # the tmp path holds the test's name
    assert SECRET[:8] not in body and "K" * 5 not in body and "sécret" not in body


@pytest.mark.parametrize("content,needle", [
    (b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
    (b'{"tester": {"exchange": "binance", "key": ' + b"9" * 5000 + b"}}", "too many digits"),
    (b'{"tester": {"key": "' + SECRET.encode() + b'"', "malformed JSON"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_absurd_key_files_are_config_errors_without_content(tmp_path, content, needle):
    p = write(tmp_path, content)
    with pytest.raises(ConfigError) as e:
        load_api_keys(p, "tester", "binance")
    msg = e.value.format()
    assert str(p) in msg and needle in msg and SECRET not in msg


def test_missing_user_mismatch_and_group_readable(tmp_path):
    p = write(tmp_path, entry())
    with pytest.raises(ConfigError, match=r"user not found in key file \(users: tester\)"):
        load_api_keys(p, "other", "binance")
    with pytest.raises(ConfigError, match="the key pair is for 'binance'"):
        load_api_keys(p, "tester", "bybit")
    os.chmod(p, 0o644)
    assert "chmod 600" in load_api_keys(p, "tester", "binance")[2][0]


def test_check_secret_text_accepts_real_key_shapes():
    binance_docs_example = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
    assert check_secret_text(binance_docs_example) is None
    assert check_secret_text("abc-DEF_123/+=") is None
