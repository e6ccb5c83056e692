"""Walking the inputs, reading files safely, and dispatching by extension.

`parse_paths` takes files and folders. Folders are walked recursively in name order, skipping
hidden entries (names starting with ".") and files with unknown extensions; a file named
explicitly must have a known extension. Each file is parsed once even when reached twice. The
documents come back in argument order, then walk order, then the order inside each file.

Every problem is an `InputFileError` naming the file (and the line for JSONL), raised before
anything is returned: a caller never gets a partial corpus.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from rag.errors import InputFileError
from rag.parsing.article import Article, to_documents
from rag.parsing.feeds import FeedError, parse_feed
from rag.parsing.html import parse_html
from rag.parsing.jsonl import RecordError, parse_json, parse_jsonl
from rag.parsing.markdown import parse_markdown
from rag.parsing.plain_text import parse_plain_text
from rag.parsing.seed_feed import looks_like_flattened_feed, parse_flattened_feed
from rag.types import Document

SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    ".txt",
    ".md",
    ".markdown",
    ".html",
    ".htm",
    ".xml",
    ".rss",
    ".atom",
    ".jsonl",
    ".json",
)
_FEED_EXTENSIONS = (".xml", ".rss", ".atom")
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._-]+)[\"']")
# Any supported file may come gzip-compressed (`corpus.jsonl.gz`): it is read as the format before `.gz`.
_GZIP = ".gz"


def format_suffix(path: Path) -> str:
    """The extension that names a file's format, lower-cased: `.jsonl` for `corpus.jsonl.gz`."""
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] == _GZIP:
        return suffixes[-2]
    return path.suffix.lower()


def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(path, "no such file or directory") from None
    except IsADirectoryError:
        raise InputFileError(path, "is a directory, expected a file") from None
    except PermissionError:
        raise InputFileError(path, "permission denied") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read file ({exc.strerror or exc})") from None
    if path.suffix.lower() != _GZIP:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputFileError(path, f"not a valid gzip file ({exc})") from None


def _decode(path: Path, data: bytes, declared_xml: bool = False) -> str:
    """UTF-8 text (a BOM is allowed); empty and binary files are refused."""
    if not data.strip():
        raise InputFileError(path, "file is empty")
    if b"\x00" in data:
        raise InputFileError(path, "binary file (contains NUL bytes), expected UTF-8 text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        m = _XML_ENCODING.match(data) if declared_xml else None
        if m:  # an XML feed may declare another encoding; honour it
            try:
                text = data.decode(m[1].decode("ascii"))
            except (LookupError, UnicodeDecodeError):
                raise InputFileError(path, f"not valid {m[1].decode('ascii')} text as declared") from None
        else:
            raise InputFileError(
                path, f"binary or non-UTF-8 file (invalid byte at offset {exc.start}), expected UTF-8 text"
            ) from None
    if not text.strip():
        raise InputFileError(path, "file is empty (only whitespace)")
    return text


def _parse_text_file(path: Path, text: str) -> list[Article]:
    if looks_like_flattened_feed(text):
        return parse_flattened_feed(text)
    return parse_plain_text(text, path.stem)


def _parsers() -> dict[str, Callable[[Path, str, bytes], list[Article]]]:
    def feed(_path: Path, _text: str, data: bytes) -> list[Article]:
        return parse_feed(data)

    return {
        ".txt": lambda p, t, _d: _parse_text_file(p, t),
        ".md": lambda p, t, _d: [parse_markdown(t, p.stem)],
        ".markdown": lambda p, t, _d: [parse_markdown(t, p.stem)],
        ".html": lambda p, t, _d: [parse_html(t, p.stem)],
        ".htm": lambda p, t, _d: [parse_html(t, p.stem)],
        ".xml": feed,
        ".rss": feed,
        ".atom": feed,
        ".jsonl": lambda _p, t, _d: parse_jsonl(t),
        ".json": lambda _p, t, _d: parse_json(t),
    }


def parse_file(path: Path, source: str) -> list[Document]:
    """The documents of one file; `source` is how they name their origin (see `parse_paths`)."""
    path = Path(path)
    suffix = format_suffix(path)
    parser = _parsers().get(suffix)
    if parser is None:
        known = " ".join(SUPPORTED_EXTENSIONS)
        raise InputFileError(path, f"unsupported file type {suffix or '(no extension)'!r} (supported: {known})")
    data = _read_bytes(path)
    text = _decode(path, data, declared_xml=suffix in _FEED_EXTENSIONS)
    try:
        articles = parser(path, text, data)
    except RecordError as exc:
        raise InputFileError(path, exc.reason, line=exc.line) from None
    except FeedError as exc:
        raise InputFileError(path, str(exc)) from None
    articles = [a for a in articles if a.paragraphs]
    if not articles:
        raise InputFileError(path, "no article text found")
    return to_documents(articles, source)


def _walk(folder: Path, seen_dirs: set[Path]) -> Iterator[Path]:
    real = folder.resolve()
    if real in seen_dirs:  # a symlink loop, or a folder already walked
        return
    seen_dirs.add(real)
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise InputFileError(folder, f"cannot list folder ({exc.strerror or exc})") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _walk(entry, seen_dirs)
        elif format_suffix(entry) in SUPPORTED_EXTENSIONS:
            yield entry


def input_files(paths: Sequence[Path]) -> list[tuple[Path, str]]:
    """(file, source) pairs in parse order; see `parse_paths`."""
    out: list[tuple[Path, str]] = []
    seen_files: set[Path] = set()
    seen_dirs: set[Path] = set()
    for given in paths:
        path = Path(given)
        if not os.path.lexists(path) or not path.exists():
            raise InputFileError(path, "no such file or directory")
        if path.is_dir():
            found = [(f, f.relative_to(path).as_posix()) for f in _walk(path, seen_dirs)]
        elif path.is_file():
            if format_suffix(path) not in SUPPORTED_EXTENSIONS:
                known = " ".join(SUPPORTED_EXTENSIONS)
                suffix = path.suffix or "(no extension)"
                raise InputFileError(path, f"unsupported file type {suffix!r} (supported: {known})")
            found = [(path, path.name)]
        else:
            raise InputFileError(path, "not a regular file or folder")
        for file, source in found:
            real = file.resolve()
            if real not in seen_files:
                seen_files.add(real)
                out.append((file, source))
    return out


def parse_paths(paths: Sequence[Path]) -> list[Document]:
    """Documents of every supported file under `paths` (files and folders).

    `source` is the file's path relative to the folder argument it was found under, or its name
    when the file was given directly. Duplicate doc_ids across files are an error naming both.
    """
    documents: list[Document] = []
    owner: dict[str, Path] = {}
    for file, source in input_files(paths):
        for doc in parse_file(file, source):
            if doc.doc_id in owner:
                raise InputFileError(
                    file,
                    f"duplicate doc_id {doc.doc_id!r} (title {doc.title!r}), also produced by {owner[doc.doc_id]}",
                )
            owner[doc.doc_id] = file
            documents.append(doc)
    return documents
