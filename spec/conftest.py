"""Hypothesis profiles, the implementation under test, and the torch marker.

* ``HYPOTHESIS_PROFILE``: ``ci`` (bounded, used by .ci/run), ``dev`` (default), ``thorough``.
* ``FASTLOSS_SPEC_IMPL``: ``fastloss`` (default) or ``torch`` (run the same properties against
  torch itself, to check the spec).
* Tests marked ``torch`` compare against torch and are skipped when it is not installed.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                     HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=20, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("dev", max_examples=60, **_COMMON)
settings.register_profile("thorough", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_collection_modifyitems(config, items):
    from spec.impl import torch_available

    if torch_available():
        return
    skip = pytest.mark.skip(reason="torch is not installed: the torch oracle comparisons are skipped")
    for item in items:
        if "torch" in item.keywords:
            item.add_marker(skip)
