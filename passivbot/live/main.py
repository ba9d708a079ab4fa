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
    if args.emulator is not None and not re.fullmatch(r"[\w.\-]+:\d+", args.emulator.split("://")[-1]):
        raise _issue("--emulator", "emulator", "must be HOST:PORT", args.emulator)
    print(f"config {cfg.source or args.user} ({args.exchange}, user {args.user}"
          f"{', emulator ' + args.emulator if args.emulator else ''}"
          f"{', testnet' if args.testnet else ''}):")
    print(json.dumps(live_config_to_dict(cfg), indent=2))
    for w in config_warnings(cfg):
        print(f"warning: {w}")
    sys.stdout.flush()
    check_output_dir(args.log_dir, "--log-dir")
    redact = Redactor((key, secret))
    try:
        return asyncio.run(run(args, cfg, key, secret, redact))
    except StopError as e:
        print(f"stopped: {redact(str(e))}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, ConfigError, InputError):
        raise
    except Exception:  # a bug: keep the traceback, but never with a secret in it
        print(redact(traceback.format_exc()), file=sys.stderr)
        return 1


async def run(args, cfg, key: str, secret: str, redact: Redactor) -> int:
    from passivbot.exchanges.ccxt_factory import create_exchange
    from passivbot.exchanges.registry import make_adapter
    from passivbot.live.bot import BotOptions, LiveBot
    from passivbot.live.alerts import Alerter
    from passivbot.live.console import setup_logging
    from passivbot.live.status_page import start_status_page
    from passivbot.report.journal import JournalWriter

    log, log_path = setup_logging(f"{args.exchange}-{args.user}", redact, args.log_level,
                                  args.log_dir)
    if log_path is not None:
        log.info("log file %s", log_path)
    ex = create_exchange(args.exchange, api_key=key, secret=secret, emulator=args.emulator,
                         testnet=args.testnet)
    # --emulator only changes where ccxt connects: the bot runs exactly as on a real exchange
    # (local clock + server offset, the same reconcile period).
    # -- bounded loss hook: the persisted stop / unstuck state (live/bounded_loss.py) --
    from passivbot.live.bounded_loss import prepare_risk_state
    risk_path = prepare_risk_state(args.log_dir, args.exchange, args.user, cfg.symbol,
                                   args.clear_equity_stop, log)
    opts = BotOptions(status_every_s=args.status_every, summary_every_s=args.summary_every,
                      risk_state_path=str(risk_path))
    bot = LiveBot(make_adapter(args.exchange, ex, cfg.symbol), cfg, log, redact, opts)
    view = bot.view
    view.mode = "paper" if args.emulator else "testnet" if args.testnet else "live"
    view.venue = args.emulator or ""
    view.on_gone = lambda why: bot.fail(StopError(why))  # paper only: the emulator ended
    journal_path = Path(args.log_dir) / f"{args.exchange}-{args.user}.journal"
    bot.journal_path = journal_path
    code = 0
    page = None
    if cfg.status_page is not None:
        sp = cfg.status_page
        token = os.environ.get(sp.token_env) or None
        redact.add(token)
        try:
            page = await start_status_page(lambda: _snapshot(bot), sp.host, sp.port, token)
        except InputError:
            await ex.close()
            raise
        log.info("status page %s%s", page.url, f" (token from ${sp.token_env})" if token else "")
    view.journal = JournalWriter(journal_path)
    log.info("journal %s (python3 -m passivbot.report %s)", journal_path, journal_path)
    if cfg.alerts is not None and cfg.alerts.enabled:
        view.alerter = Alerter(cfg.alerts, f"{args.exchange}-{args.user}", redact, log)
        await view.alerter.start()
        log.info("alerts to %s (%s)", view.alerter.where, ", ".join(cfg.alerts.events))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, bot.stopping.set)
    try:
        await bot.start()
        log.info("running; Ctrl-C to stop%s", " (orders will be cancelled)"
                 if args.cancel_on_exit else " (orders stay on the exchange)")
        await bot.run_until_stopped()
    except StopError as e:
        bot.fail(e)
    except ccxt.BaseError as e:
        bot.fail(StopError(describe(e, redact)))
    finally:
        await bot.stop(cancel_on_exit=args.cancel_on_exit)
        if page is not None:
            await page.stop()
        if view.alerter is not None:
            await view.alerter.close()
        view.journal.close()
    if bot.stop_error is not None:
        print(f"stopped: {bot.stop_error}", file=sys.stderr)
        code = 1
    log.info("stopped")
    for h in list(log.handlers):
        h.close()
    return code


def _main_multi(args, mcfg, key: str, secret: str) -> int:
    """start_bot.py with a multi-symbol config: validated like a one-symbol one, then one
    MultiBot for all its symbols on one account."""

    if args.symbol:
        raise _issue("--symbol", "symbol", "a multi-symbol config names its markets in "
                     "`symbols`; --symbol applies to one-symbol configs", args.symbol)
    if args.emulator is not None and not re.fullmatch(r"[\w.\-]+:\d+",
                                                      args.emulator.split("://")[-1]):
        raise _issue("--emulator", "emulator", "must be HOST:PORT", args.emulator)
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
    check_output_dir(args.log_dir, "--log-dir")
    redact = Redactor((key, secret))
    try:
        return asyncio.run(run_multi(args, mcfg, key, secret, redact))
    except StopError as e:
        print(f"stopped: {redact(str(e))}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, ConfigError, InputError):
        raise
    except Exception:  # a bug: keep the traceback, but never with a secret in it
        print(redact(traceback.format_exc()), file=sys.stderr)
        return 1


async def run_multi(args, mcfg, key: str, secret: str, redact: Redactor) -> int:
    """Run one MultiBot until stopped (Ctrl-C / SIGTERM: 0; a stop-class error: 1). One status
    page for the account (a section per symbol); the alerts and journal are the one-symbol
    bot's for now."""
    from passivbot.exchanges.ccxt_factory import create_exchange
    from passivbot.live.bot import BotOptions
    from passivbot.live.console import setup_logging
    from passivbot.live.multi import MultiBot

    log, log_path = setup_logging(f"{args.exchange}-{args.user}", redact, args.log_level,
                                  args.log_dir)
    if log_path is not None:
        log.info("log file %s", log_path)
    ex = create_exchange(args.exchange, api_key=key, secret=secret, emulator=args.emulator,
                         testnet=args.testnet)
    opts = BotOptions(status_every_s=args.status_every, summary_every_s=args.summary_every)
    mb = MultiBot(args.exchange, ex, mcfg, log, redact, opts)
    for bot in mb.bots.values():
        bot.view.mode = "paper" if args.emulator else "testnet" if args.testnet else "live"
    page = None
    sp = next(iter(mcfg.configs.values())).status_page  # the config's one status_page
    if sp is not None:
        from passivbot.live.status_page import start_status_page
        token = os.environ.get(sp.token_env) or None
        redact.add(token)
        try:
            page = await start_status_page(mb.snapshot, sp.host, sp.port, token)
        except InputError:
            await ex.close()
            raise
        log.info("status page %s%s", page.url, f" (token from ${sp.token_env})" if token else "")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, mb.stopping.set)
    try:
        await mb.start()
        log.info("running %d symbols; Ctrl-C to stop%s", len(mcfg.symbols),
                 " (orders will be cancelled)" if args.cancel_on_exit
                 else " (orders stay on the exchange)")
        await mb.run_until_stopped()
    except StopError as e:
        mb.fail(e)
    except ccxt.BaseError as e:
        mb.fail(StopError(describe(e, redact)))
    finally:
        await mb.stop(cancel_on_exit=args.cancel_on_exit)
        if page is not None:
            await page.stop()
    code = 0
    if mb.stop_error is not None:
        print(f"stopped: {mb.stop_error}", file=sys.stderr)
        code = 1
    log.info("stopped")
    for h in list(log.handlers):
        h.close()
    return code


def _snapshot(bot):
    """The status page's provider: a snapshot of the running bot (read-only)."""
    from passivbot.live.snapshot import bot_snapshot

    return bot_snapshot(bot)


if __name__ == "__main__":  # pragma: no cover
    from passivbot.cli import run_cli

    run_cli(main)
