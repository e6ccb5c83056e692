"""The HTTP service: the SPEC's API, the Slack endpoints and the staff page, over `rag`.

`create_app(settings)` builds a FastAPI application; `service.server.run` serves it with uvicorn.
Nothing in here reads the environment: the entry point builds a `Settings` and passes it in.
"""

from service.app import create_app

__all__ = ["create_app"]
