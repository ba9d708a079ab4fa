"""Shared test set-up: hypothesis profiles sized for a 2-core CI machine, and a headless
matplotlib backend. Compiled numba kernels are shared by every test in the process."""

import os

import matplotlib
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

# The first call of a kernel compiles it (seconds); no per-example deadline.
settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
