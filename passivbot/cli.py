"""The one error boundary for command-line scripts (start_bot.py, backtest.py, downloader.py,
`python3 -m passivbot.config`, `python3 -m passivbot.report`): a user mistake is a message and
exit code 2, never a traceback; Ctrl-C is exit 130; anything else is a bug and keeps its
traceback.

Besides ConfigError / InputError, two exceptions are user mistakes whatever raised them and are
caught here as a last line (the loaders catch them first, naming the file): RecursionError (a
JSON input nested thousands deep) and numba's "cannot cache function" (no writable folder for
compiled kernels). `check_output_dir` lets a script check an output folder before the work.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from passivbot.errors import ConfigError, InputError

EXIT_CONFIG_ERROR = 2
EXIT_INTERRUPTED = 130

NUMBA_CACHE_HINT = ("no writable folder for numba's compiled-kernel cache: set NUMBA_CACHE_DIR "
                    "to a writable folder, e.g. NUMBA_CACHE_DIR=/tmp/numba-cache")


def run_cli(main: Callable[[list[str]], int | None], argv: Sequence[str] | None = None) -> NoReturn:
    """Call `main(argv)` (default: sys.argv[1:]) and exit with its return code (None = 0).

    ConfigError / InputError -> its message on stderr, exit 2. RecursionError and numba's
    cache error -> a message saying what to do, exit 2. KeyboardInterrupt -> exit 130. Other
    exceptions propagate (with a traceback, because they are bugs, not user mistakes).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = main(args)
    except ConfigError as e:
        print(e.format(), file=sys.stderr)
        code = EXIT_CONFIG_ERROR
    except InputError as e:  # missing candles, bad key file: same contract as a config error
        print(f"error: {e}", file=sys.stderr)
        code = EXIT_CONFIG_ERROR
    except RecursionError:
        if os.environ.get("PASSIVBOT_TRACEBACK"):
            raise
        print("error: an input is nested too deeply to read (a JSON file with thousands of "
              "levels of [ or {?): check the files given on the command line (if they are "
              "ordinary, this is a bug: rerun with PASSIVBOT_TRACEBACK=1 and report it)",
              file=sys.stderr)
        code = EXIT_CONFIG_ERROR
    except RuntimeError as e:
        if "cannot cache function" not in str(e):
            raise
        print(f"error: {NUMBA_CACHE_HINT}", file=sys.stderr)
        code = EXIT_CONFIG_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    sys.stdout.flush()
    sys.exit(int(code or 0))


def check_output_dir(path: str | Path, option: str) -> Path:
    """Make sure `path` is (or can be created as) a writable folder, before any work starts.

    Raises InputError naming the option and the path: "is a file", "not writable", or the OS
    reason. Creates the folder (and parents) when missing. Returns the path.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise InputError(f"{option} {p}: is a file, not a folder; give a folder path")
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=p):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise InputError(f"{option} {p}: not writable ({reason}); give a folder you can write "
                         f"to, or fix its permissions") from None
    if not os.access(p, os.W_OK | os.X_OK):  # pragma: no cover - TemporaryFile already checked
        raise InputError(f"{option} {p}: not writable; give a folder you can write to")
    return p
