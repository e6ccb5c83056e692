"""JSON logs: one object a line, so log shippers need no parsing rules.

The access log (one line per request) is written by `service.middleware`; this module only knows
how to format records and how to install the formatter. Secrets are kept out by construction (no
header is ever logged) and, as a second line of defence, any field whose name looks like a
credential is redacted.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

ACCESS_LOGGER = "rag.access"

# Attributes every LogRecord has; anything else on a record came from `extra=` and is a field.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}
_SECRET_HINTS = ("authorization", "secret", "token", "password", "api_key", "apikey", "signature")


def _redact(name: str, value: Any) -> Any:
    return "[redacted]" if any(hint in name.lower() for hint in _SECRET_HINTS) else value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _redact(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """Route every log record (ours, uvicorn's) through one JSON handler on stderr.

    Called by the server entry point only: the app factory leaves global logging alone so tests
    and embedding applications keep their own configuration.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    # On the handler too: libraries that set DEBUG on their own loggers still propagate here.
    handler.setLevel(level.upper())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # Our access log replaces uvicorn's, which would be a second, unstructured line per request.
    logging.getLogger("uvicorn.access").disabled = True
