"""A client for any OpenAI-compatible `/chat/completions` endpoint.

`transport` is the seam tests use (`httpx.MockTransport`); production uses httpx's default.
Every failure (timeout, connection, non-2xx, malformed body) becomes `LLMError`, which the
LLM composer turns into an extractive fallback.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from rag.errors import LLMError


class OpenAICompatibleClient:
    def __init__(
        self,
        url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 20.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        # Accept either the base URL (".../v1") or the full completions URL.
        self.url = url if url.rstrip("/").endswith("/chat/completions") else url.rstrip("/") + "/chat/completions"
        self.model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout_s, headers=headers, transport=transport)

    def complete(self, messages: Sequence[dict[str, str]], *, max_tokens: int) -> str:
        payload = {"model": self.model, "messages": list(messages), "max_tokens": max_tokens, "temperature": 0}
        try:
            response = self._http.post(self.url, json=payload)
        except httpx.TimeoutException as exc:
            raise LLMError(f"LLM endpoint timed out: {exc}") from exc
        except httpx.HTTPError as exc:
            raise LLMError(f"LLM endpoint unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise LLMError(f"LLM endpoint answered HTTP {response.status_code}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMError("LLM endpoint returned a malformed completion") from exc
        if not isinstance(content, str) or not content.strip():
            raise LLMError("LLM endpoint returned an empty completion")
        return content

    def close(self) -> None:
        self._http.close()
