"""The question-answering API: /ask, /search, /documents.

Routes validate input (via `service.schemas`), call the engine in a worker thread (its work is
CPU-bound and would otherwise stall every other request on the event loop), and return the
core's own `as_dict()` bodies, made JSON-safe.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from rag.errors import QuestionError
from rag.settings import Settings
from rag.types import Filters
from service import openapi as docs
from service.deps import EngineDep, MetricsDep, SettingsDep
from service.schemas import (
    DEFAULT_TOP_K,
    MAX_FILTER_VALUES,
    MAX_QUESTION_CHARS,
    MAX_TOP_K,
    AskRequest,
    AskResponse,
    DocumentList,
    DocumentOut,
    FilterValue,
    IsoDate,
    SearchResponse,
)

router = APIRouter()


def json_safe(value: Any) -> Any:
    """Replace NaN and infinities (which JSON cannot carry) with null, recursively.

    A non-finite score is an index fault, but it must cost the client a null, not a 500.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _check_limits(settings: Settings, text: str, k: int) -> None:
    # The models carry the SPEC's limits; an operator may configure tighter ones.
    if len(text) > settings.max_question_chars:
        raise QuestionError(f"The question is longer than {settings.max_question_chars} characters.")
    if k > settings.max_top_k:
        raise QuestionError(f"top_k may be at most {settings.max_top_k}.")


@router.post(
    "/ask",
    response_model=AskResponse,
    responses=docs.ASK_RESPONSES,
    summary="Answer a question with citations",
    tags=["answers"],
)
async def ask(
    request: Annotated[AskRequest, Body()],
    engine: EngineDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> JSONResponse:
    """Answer from the indexed articles; every `[n]` in `answer` is the citation numbered `n`.

    When the articles do not support an answer, `abstained` is true and `reason` says why.
    """
    _check_limits(settings, request.question, request.top_k)
    filters = request.filters.to_filters() if request.filters else None
    answer = await run_in_threadpool(partial(engine.ask, request.question, top_k=request.top_k, filters=filters))
    metrics.observe_answer(answer)
    return JSONResponse(json_safe(answer.as_dict()))


@router.get(
    "/search",
    response_model=SearchResponse,
    responses=docs.SEARCH_RESPONSES,
    summary="Rank passages for a query",
    tags=["answers"],
)
async def search(
    engine: EngineDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=r"\S")],
    k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = DEFAULT_TOP_K,
    published_from: Annotated[IsoDate | None, Query()] = None,
    published_to: Annotated[IsoDate | None, Query()] = None,
    source: Annotated[list[FilterValue] | None, Query(max_length=MAX_FILTER_VALUES)] = None,
) -> JSONResponse:
    query = q.strip()
    _check_limits(settings, query, k)
    filters: Filters | None = None
    if published_from or published_to or source:
        filters = Filters(published_from=published_from, published_to=published_to, sources=tuple(source or ()))
    result = await run_in_threadpool(partial(engine.search, query, k=k, filters=filters))
    metrics.observe_timings("search", result.timings_ms)
    return JSONResponse(json_safe(result.as_dict()))


@router.get(
    "/documents",
    response_model=DocumentList,
    responses=docs.DOCUMENTS_RESPONSES,
    summary="List the indexed documents (metadata only)",
    tags=["documents"],
)
async def list_documents(
    engine: EngineDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JSONResponse:
    documents = await run_in_threadpool(engine.documents)
    page = list(documents)[offset : offset + limit]
    return JSONResponse(
        json_safe(
            {
                "documents": [
                    {
                        "doc_id": d.doc_id,
                        "title": d.title,
                        "url": d.url,
                        "published": d.published,
                        "source": d.source,
                        "chars": len(d.text),
                    }
                    for d in page
                ],
                "total": len(documents),
                "offset": offset,
                "limit": limit,
                "index_version": engine.index_version,
            }
        )
    )


@router.get(
    "/documents/{doc_id}",
    response_model=DocumentOut,
    responses=docs.DOCUMENT_RESPONSES,
    summary="One document with its clean text",
    tags=["documents"],
)
async def get_document(
    engine: EngineDep,
    doc_id: Annotated[str, Path(min_length=1, max_length=500)],
) -> JSONResponse:
    document = await run_in_threadpool(engine.document, doc_id)
    return JSONResponse(
        json_safe(
            {
                "doc_id": document.doc_id,
                "title": document.title,
                "url": document.url,
                "published": document.published,
                "source": document.source,
                "text": document.text,
                "metadata": _jsonable(document.metadata),
                "index_version": engine.index_version,
            }
        )
    )


def _jsonable(metadata: dict[str, Any]) -> dict[str, Any]:
    # Metadata comes from arbitrary ingested JSON keys; anything exotic is shown as text.
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if value is None or isinstance(value, str | int | float | bool | list | dict):
            out[str(key)] = value
        else:
            out[str(key)] = str(value)
    return out
