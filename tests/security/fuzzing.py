"""The fuzz budget and the JSON strategy shared by the property tests.

CI runs a fixed, derandomised budget (the same inputs on every run, so a failure is reproducible and
the time is predictable); ``HYPOTHESIS_PROFILE=deep`` raises the budget and draws fresh inputs.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = ["FUZZ", "json_values"]

settings.register_profile(
    "noetl-ci",
    max_examples=150,
    derandomize=True,
    deadline=None,  # hangs are caught by explicit time bounds in the tests, not by per-example deadlines
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.register_profile(
    "deep", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

#: Apply to every property test: the active budget (``noetl-ci`` unless ``HYPOTHESIS_PROFILE`` says otherwise).
FUZZ = settings(settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "noetl-ci")))


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON document: the scalars a parser can produce, nested in lists and objects."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
    )
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )
