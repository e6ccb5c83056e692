"""FastAPI dependencies: how a route gets the settings, the engine and the metrics.

Everything hangs off `app.state.service` (one `ServiceState` per app), never module globals,
so several apps can live in one process.

All are `async def` although none awaits: FastAPI runs a plain `def` dependency in the thread
pool, so each would cost a thread hop per request (and, under load, a wait for a free worker).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag.settings import Settings
from service.metrics import ServiceMetrics
from service.state import Engine, ServiceState


async def get_state(request: Request) -> ServiceState:
    return request.app.state.service


async def get_settings(state: Annotated[ServiceState, Depends(get_state)]) -> Settings:
    return state.settings


async def get_metrics(state: Annotated[ServiceState, Depends(get_state)]) -> ServiceMetrics:
    return state.metrics


async def get_engine(state: Annotated[ServiceState, Depends(get_state)]) -> Engine:
    """The loaded engine, or a 503 `not_ready` / `index_missing` while there is none."""
    return state.require_engine()


StateDep = Annotated[ServiceState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
EngineDep = Annotated[Engine, Depends(get_engine)]
