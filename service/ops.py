"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from service import openapi as docs
from service.deps import MetricsDep, StateDep
from service.schemas import ErrorResponse, Health, Ready

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> dict[str, str]:
    # Deliberately touches nothing: a slow or broken index must not get the process restarted.
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: {"model": ErrorResponse, "description": "Not ready: still loading, or the index is unusable"}},
    summary="The index is loaded and answering",
)
async def readyz(state: StateDep) -> JSONResponse:
    engine = state.require_engine()  # 503 not_ready / index_missing / index_corrupt until loaded
    return JSONResponse({
        "status": "ready", "index_version": engine.index_version, "documents": state.document_count,
        "swapping": state.swapping,
    })


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format"},
        **docs.UNAUTHORIZED,
    },
    summary="Prometheus metrics",
)
async def metrics(metrics: MetricsDep) -> Response:
    payload, content_type = metrics.render()
    return Response(payload, media_type=content_type)
