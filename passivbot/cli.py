"""The one error boundary for command-line scripts (start_bot.py, backtest.py, downloader.py,
`python3 -m passivbot.config`): a config mistake is a message and exit code 2, never a
traceback; Ctrl-C is exit 130; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from passivbot.errors import ConfigError, InputError

EXIT_CONFIG_ERROR = 2
EXIT_INTERRUPTED = 130


def run_cli(main: Callable[[list[str]], int | None], argv: Sequence[str] | None = None) -> NoReturn:
    """Call `main(argv)` (default: sys.argv[1:]) and exit with its return code (None = 0).

    ConfigError / InputError -> its message on stderr, exit 2. KeyboardInterrupt -> exit 130. Other
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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    sys.stdout.flush()
    sys.exit(int(code or 0))
