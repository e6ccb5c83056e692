import gzip

import pytest

from rag import tokens
from rag.errors import ConfigError


def test_cl100k_counts_match_known_values() -> None:
    # Reference counts of tiktoken's cl100k_base for these strings.
    assert tokens.count_tokens("hello world") == 2
    assert tokens.encoding().encode_ordinary("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]


def test_a_tampered_rank_file_is_refused(tmp_path, monkeypatch) -> None:
    bad = tmp_path / "cl100k_base.tiktoken"
    bad.write_bytes(gzip.decompress(gzip.compress(b"aGVsbG8= 0\n")))
    monkeypatch.setattr(tokens, "_unpacked_rank_file", lambda: bad)
    tokens.encoding.cache_clear()
    try:
        with pytest.raises(ConfigError, match="cl100k_base"):
            tokens.encoding()
    finally:
        tokens.encoding.cache_clear()
