"""'Did you mean …?' suggestions for misspelt keys and values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# How close a misspelling must be to a known word (difflib ratio on case-folded text).
CUTOFF = 0.8


def closest(word: str, candidates: Iterable[str], *, cutoff: float = CUTOFF) -> str | None:
    """The candidate nearest to `word` (case-insensitive), or None when nothing is close."""
    by_folded = {candidate.casefold(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=cutoff)
    return by_folded[matches[0]] if matches else None


def did_you_mean(word: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str:
    """`'; did you mean X?'` or `''` — ready to append to a message."""
    match = closest(word, candidates, cutoff=cutoff)
    return f"; did you mean {match}?" if match else ""
