"""Hypothesis settings of the property tests: no deadline (the machine is shared and loaded;
tests never assert timings), no example database written into the working tree, a bounded
number of examples so the suite stays quick, and derandomized: ``make test`` always runs the
same cases, so a failure is a regression, never a lucky draw. ``HYPOTHESIS_PROFILE=thorough``
explores: random seeds and 5,000 examples per test."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ioc",
    deadline=None,
    max_examples=200,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", parent=settings.get_profile("ioc"), max_examples=5000, derandomize=False
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ioc"))
