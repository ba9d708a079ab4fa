"""Stopping the real CLI processes a test or a harness started: Ctrl-C first (what a user
does, so each prints its summary and closes cleanly), then kill, each wait bounded."""

from __future__ import annotations

import signal
import subprocess


def interrupt_all(procs, timeout: float = 20.0) -> None:
    """Ctrl-C each process still running, in the given order (a bot before its exchange: it
    must not outlive it), wait at most `timeout` s for each, kill one that does not exit."""
    for p in procs:
        if p is None:
            continue
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=timeout)
