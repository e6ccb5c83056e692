"""LLM clients behind the `LLMClient` protocol (OpenAI-compatible chat completions over httpx)."""
