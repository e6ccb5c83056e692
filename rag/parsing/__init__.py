"""Parsing input files into clean `Document`s.

    from rag.parsing import parse_paths, parse_file, make_doc_id

    parse_paths(paths)          files and folders -> documents, in a deterministic order
    parse_file(path, source)    one file -> its documents
    make_doc_id(source, key)    sha256(f"{source}\\n{key}") hex, first 16 characters

Formats, one module each: the flattened RSS dump of the seed corpus (`seed_feed`), plain multi-article
text with headline lines (`plain_text`), Markdown (`markdown`), HTML (`html`), RSS/Atom (`feeds`),
JSON Lines / JSON (`jsonl`). `clean` holds the boilerplate and whitespace rules they share, `dates`
the ISO date normalisation, `ids` the stable ids, `files` the walking and dispatch.
Bad input raises `rag.errors.InputFileError` naming the file (and line).
"""

from rag.parsing.files import SUPPORTED_EXTENSIONS, parse_file, parse_paths
from rag.parsing.ids import make_doc_id

__all__ = ["SUPPORTED_EXTENSIONS", "make_doc_id", "parse_file", "parse_paths"]
