"""Shared Hypothesis strategies for hostile external input."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON-like value (what a hostile client can put in a body)."""
    return st.recursive(
        SCALARS,
        lambda inner: (
            st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
        ),
        max_leaves=max_leaves,
    )
