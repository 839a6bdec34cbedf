"""Hypothesis strategies shared by the parser tests."""

from __future__ import annotations

from hypothesis import strategies as st

# Any JSON document, small: what a tracker (or anyone posting to a webhook) could send.
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=25,
)
