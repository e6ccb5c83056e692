"""The JSON response the API routes return: rendered by orjson.

orjson is several times faster than the standard library on answer-sized bodies, and it writes
NaN and infinities as `null` (JSON cannot carry them): a non-finite score is an index fault, but it
must cost the client a null, not a 500.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS)
