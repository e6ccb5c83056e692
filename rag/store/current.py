"""Which index version a store has committed: what a server polls to notice a new one."""

from __future__ import annotations

from rag.errors import RagError
from rag.settings import Settings


def committed_version(settings: Settings) -> str | None:
    """The index folder's CURRENT generation, or the database's manifest version; None when there
    is none or the store cannot be read right now (a server then keeps what it serves)."""
    if settings.store:
        from rag.store.postgres.load import current_version

        try:
            return current_version(settings.store)
        except RagError:
            return None
    try:
        return (settings.index_dir / "CURRENT").read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None
