"""One typed error tree for the whole project.

The CLI maps these to exit codes (`exit_code`), the service to HTTP statuses (`http_status`).
Anything not derived from `RagError` is a bug and surfaces as exit 1 / HTTP 500.

    RagError                      (exit 1, HTTP 500)
    ├── BadInputError             (exit 2, HTTP 400)  the caller gave us something unusable
    │   ├── InputFileError        a file to ingest is missing, empty, binary or malformed
    │   ├── QuestionError         an empty/oversize question, a bad top_k or filter
    │   └── NotFoundError         (HTTP 404) an unknown document id
    ├── IndexError_               (exit 2, HTTP 503)  the index cannot be used
    │   ├── IndexMissingError     no index at the path
    │   ├── IndexCorruptError     manifest mismatch, checksum failure, unreadable file
    │   └── StoreUnavailableError the PostgreSQL store: bad URL, server down, no pgvector, wrong schema
    ├── ModelFileError            (exit 2, HTTP 503)  a shipped model is missing, altered or malformed
    ├── ConfigError               (exit 2, HTTP 500)  bad RAG_* settings
    └── LLMError                  (exit 1, HTTP 502)  the LLM endpoint failed (callers fall back)
"""

from __future__ import annotations


class RagError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = 1
    http_status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInputError(RagError):
    exit_code = 2
    http_status = 400
    code = "bad_input"


class InputFileError(BadInputError):
    """A file given to ingest cannot be read as documents. The message names the file (and line)."""

    code = "bad_input_file"

    def __init__(self, path: object, reason: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {reason}")
        self.path = str(path)
        self.line = line
        self.reason = reason


class QuestionError(BadInputError):
    code = "bad_question"


class NotFoundError(BadInputError):
    http_status = 404
    code = "not_found"


class IndexError_(RagError):  # trailing underscore: do not shadow the builtin IndexError
    exit_code = 2
    http_status = 503
    code = "index_unavailable"


class IndexMissingError(IndexError_):
    code = "index_missing"


class IndexCorruptError(IndexError_):
    code = "index_corrupt"


class StoreUnavailableError(IndexError_):
    """The database holding the index cannot be used; the message says why in one line."""

    code = "store_unavailable"


class ModelFileError(RagError):
    """A model file the project ships fails its checksum or cannot be read: refuse, never guess."""

    exit_code = 2
    http_status = 503
    code = "model_unavailable"


class ConfigError(RagError):
    exit_code = 2
    code = "bad_config"


class LLMError(RagError):
    http_status = 502
    code = "llm_error"
