"""Stable document ids.

An id depends only on where a document came from (`source`) and a key naming it inside that file
(its URL, else its title), so re-parsing unchanged input gives the same ids and an edited body keeps
its id (the index then replaces the document rather than duplicating it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def make_doc_id(source: str, key: str) -> str:
    """The first 16 hex characters of sha256(f"{source}\\n{key}")."""
    return hashlib.sha256(f"{source}\n{key}".encode()).hexdigest()[:16]


def unique_keys(keys: Iterable[str]) -> list[str]:
    """Suffix repeats with `#2`, `#3`, … so two articles of one file never share a key.

    The suffix depends only on the order of the articles in the file, which keeps it stable.
    """
    used: set[str] = set()
    seen: dict[str, int] = {}
    out: list[str] = []
    for key in keys:
        n = seen.get(key, 0) + 1
        candidate = key if n == 1 else f"{key}#{n}"
        # A key that itself ends in "#2" must not collide with a generated suffix.
        while candidate in used:
            n += 1
            candidate = f"{key}#{n}"
        seen[key] = n
        used.add(candidate)
        out.append(candidate)
    return out
