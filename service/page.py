"""The staff page at `/`: one static HTML file, served with a strict Content-Security-Policy.

The page's inline script and style are allowed by their sha256 hashes and nothing else is, so
even if document text ever reached the DOM as markup, an injected `<script>` or `onerror=`
handler would not run. (The page inserts document text with `textContent` in the first place;
the CSP is the second lock.)
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter()

_INLINE = {
    "script": re.compile(r"<script>(.*?)</script>", re.DOTALL),
    "style": re.compile(r"<style>(.*?)</style>", re.DOTALL),
}


@lru_cache(maxsize=1)
def page_html() -> str:
    return (resources.files("service") / "static" / "index.html").read_text(encoding="utf-8")


def _hashes(kind: str, html: str) -> str:
    digests = []
    for block in _INLINE[kind].findall(html):
        digest = base64.b64encode(hashlib.sha256(block.encode("utf-8")).digest()).decode()
        digests.append(f"'sha256-{digest}'")
    return " ".join(digests) or "'none'"


@lru_cache(maxsize=1)
def content_security_policy() -> str:
    html = page_html()
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {_hashes('script', html)}",
            f"style-src {_hashes('style', html)}",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


@router.get(
    "/",
    response_class=HTMLResponse,
    responses={200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "The staff page"}},
    summary="The staff page: ask a question, read the cited answer",
    tags=["page"],
)
async def index() -> HTMLResponse:
    return HTMLResponse(
        page_html(),
        headers={
            "Content-Security-Policy": content_security_policy(),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )
