"""Shared test set-up: hypothesis profiles sized for a 2-core CI machine, and a headless
matplotlib backend. Compiled numba kernels are shared by every test in the process."""

import os
import signal

import matplotlib
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

# A shell without job control starts a background job (`bash .ci/run &`, a CI runner) with
# SIGINT ignored, and exec'd children inherit that: the tests that press Ctrl-C on a real CLI
# process (emulator, optimizer, README commands) then saw it ignored and timed out. Give the
# test process, and so every child it starts, the disposition a terminal gives.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The first call of a kernel compiles it (seconds); no per-example deadline.
settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
