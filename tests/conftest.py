import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
settings.register_profile("dev", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _clean_config():
    """Every test starts and ends with default flags and an empty trace stack."""
    import funcgrad as fg
    from funcgrad.core import trace
    before = fg.config.values()
    yield
    for k, v in before.items():
        if fg.config.values()[k] != v:
            fg.config.update(k, v)
    assert trace.trace_state_clean(), "a test left the trace stack dirty"


@pytest.fixture
def x64():
    import funcgrad as fg
    fg.config.update("enable_x64", True)
    yield
    fg.config.update("enable_x64", False)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
