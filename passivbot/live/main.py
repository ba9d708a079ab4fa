"""`start_bot.py`: arguments, key file and config validation, then run the bot until stopped.

Everything is validated before the first request is sent: a missing key file, a missing user,
an exchange mismatch or a bad config is a ConfigError (message, exit 2, via passivbot.cli).
A stop-class exchange error (bad keys, no permission, unknown symbol) exits 1 with its
(redacted) message. Ctrl-C / SIGTERM stop cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import re
import signal
import sys
import traceback
from pathlib import Path

import ccxt

from passivbot.config import PROJECT_ROOT, live_config_to_dict, load_live_config
from passivbot.cli import check_output_dir
from passivbot.config.keys import load_api_keys
from passivbot.config.live import SYMBOL_PATTERN
from passivbot.config.sanity import config_warnings
from passivbot.errors import MISSING, ConfigError, ConfigIssue, InputError
from passivbot.exchanges.errors import Redactor, StopError, describe
from passivbot.exchanges.registry import MODULES

PLACEHOLDER_KEY = "paper-trading-key"
PLACEHOLDER_SECRET = "paper-trading-secret"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="start_bot.py", description="Run the passivbot grid bot.")
    p.add_argument("exchange", choices=sorted(MODULES), help="exchange to trade on")
    p.add_argument("user", help="key pair name in api-keys.json; also live_settings/USER.json")
    p.add_argument("--config", help="live config path (default live_settings/USER.json)")
    p.add_argument("--api-keys", help="key file (default api-keys.json in the project root)")
    p.add_argument("--symbol", help="override the config's symbol, e.g. ETHUSDT")
    p.add_argument("--cancel-on-exit", action="store_true",
                   help="cancel the bot's open orders on shutdown (default: leave them)")
    p.add_argument("--testnet", action="store_true", help="the exchange's official testnet")
    p.add_argument("--emulator", metavar="HOST:PORT",
                   help="trade a local passivbot emulator (no real keys needed)")
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--log-dir", default=str(PROJECT_ROOT / "logs"), help=argparse.SUPPRESS)
    p.add_argument("--status-every", type=float, default=30.0, help="status line period, s")
    p.add_argument("--clear-equity-stop", action="store_true",  # bounded loss (risklive)
                   help="clear an equity stop in force (the bot trades again), then start")
    p.add_argument("--summary-every", type=float, default=900.0,
                   help="summary period (balance, PnL, positions, every order), s; also at exit")
    return p


def _issue(path: Path | str, key: str, message: str, value=MISSING) -> ConfigError:
    return ConfigError([ConfigIssue(str(path), key, value, message)])


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    keys_path = Path(args.api_keys) if args.api_keys else PROJECT_ROOT / "api-keys.json"
    if args.emulator is not None and not args.api_keys:
        # Paper trading: never read (let alone send) the real key pair; an explicit --api-keys
        # is how a test hands the emulator a key pair to check signatures with.
        key, secret, warnings = PLACEHOLDER_KEY, PLACEHOLDER_SECRET, []
    else:
        key, secret, warnings = load_api_keys(keys_path, args.user, args.exchange)
    for w in warnings:
        print(w, file=sys.stderr)
    from passivbot.config.live import read_config_file
    from passivbot.config.multi import is_multi_dict, multi_config_from_dict

    path, raw = read_config_file(args.config or args.user, "live_settings", None)
    if is_multi_dict(raw):  # several symbols on one account (live/multi.py)
        return _main_multi(args, multi_config_from_dict(raw, str(path)), key, secret)
    cfg = load_live_config(args.config or args.user)
    if args.symbol:
        if not re.fullmatch(SYMBOL_PATTERN, args.symbol):
            raise _issue("--symbol", "symbol", "must look like ETHUSDT", args.symbol)
        cfg = dataclasses.replace(cfg, symbol=args.symbol)
    _check_emulator(args)
    print(f"config {cfg.source or args.user} ({args.exchange}, user {args.user}"
          f"{', emulator ' + args.emulator if args.emulator else ''}"
          f"{', testnet' if args.testnet else ''}):")
    print(json.dumps(live_config_to_dict(cfg), indent=2))
    for w in config_warnings(cfg):
        print(f"warning: {w}")
    sys.stdout.flush()
    return _launch(args, key, secret, lambda redact: run(args, cfg, key, secret, redact))


def _check_emulator(args) -> None:
    if args.emulator is not None and not re.fullmatch(r"[\w.\-]+:\d+",
                                                      args.emulator.split("://")[-1]):
        raise _issue("--emulator", "emulator", "must be HOST:PORT", args.emulator)


def _launch(args, key: str, secret: str, run_session) -> int:
    """After validation: the log folder checked, then `run_session(redact)` in an event loop;
    a stop-class error exits 1 with its (redacted) message, a bug 1 with a redacted traceback."""
    check_output_dir(args.log_dir, "--log-dir")
    redact = Redactor((key, secret))
    try:
        return asyncio.run(run_session(redact))
    except StopError as e:
        print(f"stopped: {redact(str(e))}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, ConfigError, InputError):
        raise
    except Exception:  # a bug: keep the traceback, but never with a secret in it
        print(redact(traceback.format_exc()), file=sys.stderr)
        return 1


class Session:
    """What one start_bot.py run owns around its bot: the log, the exchange client, the status
    page, the alerts, the journals, the signal handlers and the exit code. The bot is a LiveBot
    (one symbol) or a MultiBot (several): both start, run until stopped, fail and stop alike,
    so one session drives either and a trader gets the same things from both."""

    def __init__(self, args, key: str, secret: str, redact: Redactor) -> None:
        from passivbot.exchanges.ccxt_factory import create_exchange
        from passivbot.live.console import setup_logging

        self.args, self.redact = args, redact
        self.log, log_path = setup_logging(f"{args.exchange}-{args.user}", redact,
                                           args.log_level, args.log_dir)
        if log_path is not None:
            self.log.info("log file %s", log_path)
        # --emulator only changes where ccxt connects: the bot runs exactly as on a real
        # exchange (local clock + server offset, the same reconcile period).
        self.ex = create_exchange(args.exchange, api_key=key, secret=secret,
                                  emulator=args.emulator, testnet=args.testnet)
        self.page = None
        self.alerter = None

    def risk_path(self, name: str) -> Path:
        """The bounded-loss state file of `name` (a symbol; live/bounded_loss.py)."""
        from passivbot.live.bounded_loss import prepare_risk_state

        a = self.args
        return prepare_risk_state(a.log_dir, a.exchange, a.user, name, a.clear_equity_stop,
                                  self.log)

    def options(self, **kw):
        from passivbot.live.bot import BotOptions

        return BotOptions(status_every_s=self.args.status_every,
                          summary_every_s=self.args.summary_every, **kw)

    async def run(self, runner, bots: dict, cfg, snapshot, running: str,
                  journals: dict[str, Path], multi: bool) -> int:
        """Run `runner` (a LiveBot or a MultiBot whose symbols' bots are `bots`) until Ctrl-C /
        SIGTERM (0) or a stop-class error (1). `cfg`: a LiveConfig for the session-wide keys
        (status_page, alerts); `journals`: each symbol's journal file; `multi`: several symbols
        share the console and the alerts, so each line and message names its symbol."""
        args, log = self.args, self.log
        for sym, bot in bots.items():
            view = bot.view
            view.mode = "paper" if args.emulator else "testnet" if args.testnet else "live"
            view.venue = args.emulator or ""
            view.on_gone = lambda why: runner.fail(StopError(why))  # paper: the emulator ended
            bot.journal_path = journals[sym]  # also where the fills made while down are read
        if multi:
            tag_symbols(log)
        if cfg.status_page is not None:
            await self._start_page(cfg.status_page, snapshot)
        from passivbot.report.journal import JournalWriter

        for sym, bot in bots.items():
            bot.view.journal = JournalWriter(journals[sym])
            log.info("journal %s%s (python3 -m passivbot.report %s)", f"{sym} " if multi else "",
                     journals[sym], journals[sym])
        if cfg.alerts is not None and cfg.alerts.enabled:
            await self._start_alerts(cfg.alerts, bots, multi)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, runner.stopping.set)
        try:
            await runner.start()
            log.info("%s; Ctrl-C to stop%s", running, " (orders will be cancelled)"
                     if args.cancel_on_exit else " (orders stay on the exchange)")
            await runner.run_until_stopped()
        except StopError as e:
            runner.fail(e)
        except ccxt.BaseError as e:
            runner.fail(StopError(describe(e, self.redact)))
        finally:
            await runner.stop(cancel_on_exit=args.cancel_on_exit)
            if multi:  # each symbol printed its summary; the account's figures in one line
                _log_account(log, snapshot, self.redact)
            if self.page is not None:
                await self.page.stop()
            if self.alerter is not None:
                await self.alerter.close()
            for bot in bots.values():
                if bot.view.journal is not None:
                    bot.view.journal.close()
        code = 0
        if runner.stop_error is not None:
            print(f"stopped: {runner.stop_error}", file=sys.stderr)
            code = 1
        log.info("stopped")
        for h in list(log.handlers):
            h.close()
        return code

    async def _start_page(self, sp, snapshot) -> None:
        from passivbot.live.status_page import start_status_page

        token = os.environ.get(sp.token_env) or None
        self.redact.add(token)
        try:
            self.page = await start_status_page(snapshot, sp.host, sp.port, token)
        except InputError:
            await self.ex.close()
            raise
        self.log.info("status page %s%s", self.page.url,
                      f" (token from ${sp.token_env})" if token else "")

    async def _start_alerts(self, acfg, bots: dict, multi: bool) -> None:
        """One Alerter for the session (one rate limit for the account); on several symbols
        each symbol's view queues on it through `for_symbol` (its messages name the symbol)."""
        from passivbot.live.alerts import Alerter

        a = self.args
        self.alerter = Alerter(acfg, f"{a.exchange}-{a.user}", self.redact, self.log)
        await self.alerter.start()
        for sym, bot in bots.items():
            bot.view.alerter = self.alerter.for_symbol(sym) if multi else self.alerter
        self.log.info("alerts to %s (%s)", self.alerter.where, ", ".join(acfg.events))


async def run(args, cfg, key: str, secret: str, redact: Redactor) -> int:
    """Run one LiveBot for `cfg.symbol` until stopped: status page, journal, alerts as
    configured; fills made while the bot was down reported from the journal."""
    from passivbot.exchanges.registry import make_adapter
    from passivbot.live.bot import LiveBot

    s = Session(args, key, secret, redact)
    # -- bounded loss hook: the persisted stop / unstuck state (live/bounded_loss.py) --
    opts = s.options(risk_state_path=str(s.risk_path(cfg.symbol)))
    bot = LiveBot(make_adapter(args.exchange, s.ex, cfg.symbol), cfg, s.log, redact, opts)
    journal = Path(args.log_dir) / f"{args.exchange}-{args.user}.journal"
    return await s.run(bot, {cfg.symbol: bot}, cfg, lambda: _snapshot(bot), "running",
                       {cfg.symbol: journal}, multi=False)


def _main_multi(args, mcfg, key: str, secret: str) -> int:
    """start_bot.py with a multi-symbol config: validated like a one-symbol one, then one
    MultiBot for all its symbols on one account."""

    if args.symbol:
        raise _issue("--symbol", "symbol", "a multi-symbol config names its markets in "
                     "`symbols`; --symbol applies to one-symbol configs", args.symbol)
    _check_emulator(args)
    lo, sh = mcfg.total_wallet_exposure_limit
    print(f"config {mcfg.source} ({args.exchange}, user {args.user}"
          f"{', emulator ' + args.emulator if args.emulator else ''}"
          f"{', testnet' if args.testnet else ''}): {len(mcfg.symbols)} symbols "
          f"{', '.join(mcfg.symbols)}; n_positions {mcfg.n_positions}; shared wallet exposure "
          f"limit long {lo:g} short {sh:g} (per symbol {lo / mcfg.n_positions:g} / "
          f"{sh / mcfg.n_positions:g}); leverage {mcfg.leverage}")
    for sym in mcfg.symbols:
        for w in config_warnings(mcfg.configs[sym]):
            print(f"warning: {sym}: {w}")
    sys.stdout.flush()
    return _launch(args, key, secret, lambda redact: run_multi(args, mcfg, key, secret, redact))


async def run_multi(args, mcfg, key: str, secret: str, redact: Redactor) -> int:
    """Run one MultiBot until stopped (Ctrl-C / SIGTERM: 0; a stop-class error: 1), with what
    the one-symbol session has: one status page for the account (a section per symbol), one
    Alerter (one rate limit) whose messages name their symbol, a journal per symbol
    (`EXCHANGE-USER-SYMBOL.journal`: the report turns each into a backtest's stats; the fills
    made while the bot was down are reported per symbol on restart), console lines tagged with
    their symbol, and the account's bounded-loss state file (`...-MULTI-<config name>`)."""
    from passivbot.live.multi import MultiBot

    s = Session(args, key, secret, redact)
    name = "MULTI-" + Path(mcfg.source or "config").stem
    opts = s.options(risk_state_path=str(s.risk_path(name)))
    mb = MultiBot(args.exchange, s.ex, mcfg, s.log, redact, opts)
    journals = {sym: Path(args.log_dir) / f"{args.exchange}-{args.user}-{sym}.journal"
                for sym in mcfg.symbols}
    first = next(iter(mcfg.configs.values()))  # the session-wide keys (status_page, alerts)
    return await s.run(mb, mb.bots, first, mb.snapshot, f"running {len(mcfg.symbols)} symbols",
                       journals, multi=True)


class _SymbolTag(logging.Filter):
    """Sets `record.symbol` to "SYMBOL " for a line of a symbol's bot (a child logger named
    after its symbol, live/multi.py), "" for the account's own lines."""

    def __init__(self, root: str) -> None:
        super().__init__()
        self.prefix = root + "."

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        record.symbol = name[len(self.prefix):] + " " if name.startswith(self.prefix) else ""
        return True


def tag_symbols(log: logging.Logger) -> None:
    """Several symbols share one console and log file: each line names its symbol
    (`12:00:01 INFO  ETHUSDT FILL long entry ...`)."""
    for h in log.handlers:
        h.addFilter(_SymbolTag(log.name))
        datefmt = h.formatter.datefmt if h.formatter is not None else None
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(symbol)s%(message)s",
                                         datefmt))


def _log_account(log: logging.Logger, snapshot, redact: Redactor) -> None:
    """The account at shutdown (several symbols): wallet, equity and the session's PnL summed
    over the symbols, next to each symbol's own summary."""
    try:
        a = snapshot()
        realized = sum(s.session_realized_pnl for s in a.symbols)
        fees = sum(s.session_fees for s in a.symbols)
        log.info("account at shutdown: balance %.2f USDT, equity %.2f, unrealized %+.2f, "
                 "realized %+.4f - fees %.4f = %+.4f over %d symbols", a.balance, a.equity,
                 a.upnl, realized, fees, realized - fees, len(a.symbols))
    except Exception as e:  # noqa: BLE001 - a report; the orders are handled already
        log.warning("account summary failed: %s", describe(e, redact))


def _snapshot(bot):
    """The status page's provider: a snapshot of the running bot (read-only)."""
    from passivbot.live.snapshot import bot_snapshot

    return bot_snapshot(bot)


if __name__ == "__main__":  # pragma: no cover
    from passivbot.cli import run_cli

    run_cli(main)
