"""The question-answering API: /ask, /search, /documents.

Routes validate input (via `service.schemas`), call the engine in a worker thread (its work is
CPU-bound and would otherwise stall every other request on the event loop), and return the
core's own `as_dict()` bodies, rendered by orjson (`service.responses`).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query
from fastapi.responses import HTMLResponse, Response

from rag.errors import QuestionError
from rag.settings import Settings
from rag.types import Filters, followable_url
from service import document_page
from service import openapi as docs
from service.deps import EngineDep, MetricsDep, SettingsDep, StateDep
from service.responses import FastJSONResponse
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
    state: StateDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> FastJSONResponse:
    """Answer from the indexed articles; every `[n]` in `answer` is the citation numbered `n`.

    When the articles do not support an answer, `abstained` is true and `reason` says why.
    """
    _check_limits(settings, request.question, request.top_k)
    filters = request.filters.to_filters() if request.filters else None
    answer = await state.run_engine(partial(engine.ask, request.question, top_k=request.top_k, filters=filters))
    metrics.observe_answer(answer)
    body = answer.as_dict()
    add_links(settings, body["citations"])
    return FastJSONResponse(body)


@router.get(
    "/search",
    response_model=SearchResponse,
    responses=docs.SEARCH_RESPONSES,
    summary="Rank passages for a query",
    tags=["answers"],
)
async def search(
    engine: EngineDep,
    state: StateDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, pattern=r"\S")],
    k: Annotated[int, Query(ge=1, le=MAX_TOP_K)] = DEFAULT_TOP_K,
    published_from: Annotated[IsoDate | None, Query()] = None,
    published_to: Annotated[IsoDate | None, Query()] = None,
    source: Annotated[list[FilterValue] | None, Query(max_length=MAX_FILTER_VALUES)] = None,
) -> FastJSONResponse:
    query = q.strip()
    _check_limits(settings, query, k)
    filters: Filters | None = None
    if published_from or published_to or source:
        filters = Filters(published_from=published_from, published_to=published_to, sources=tuple(source or ()))
    result = await state.run_engine(partial(engine.search, query, k=k, filters=filters))
    metrics.observe_timings("search", result.timings_ms)
    body = result.as_dict()
    add_links(settings, body["hits"])
    return FastJSONResponse(body)


@router.get(
    "/documents",
    response_model=DocumentList,
    responses=docs.DOCUMENTS_RESPONSES,
    summary="List the indexed documents (metadata only)",
    tags=["documents"],
)
async def list_documents(
    engine: EngineDep,
    state: StateDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FastJSONResponse:
    documents = await state.run_engine(engine.documents)
    page = list(documents)[offset : offset + limit]
    return FastJSONResponse(
        {
            "documents": [
                {
                    "doc_id": d.doc_id,
                    "title": d.title,
                    "url": followable_url(d.url),
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


@router.get(
    "/documents/{doc_id}",
    response_model=DocumentOut,
    responses=docs.DOCUMENT_RESPONSES,
    summary="One document with its clean text",
    tags=["documents"],
)
async def get_document(
    engine: EngineDep,
    state: StateDep,
    doc_id: Annotated[str, Path(min_length=1, max_length=500)],
    hl: Annotated[list[str] | None, Query(max_length=document_page.MAX_HIGHLIGHTS, description="START-END")] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The article; `hl` marks quoted spans. Browsers (`Accept: text/html`) get it as a page with
    the spans highlighted and the first scrolled into view; API clients get JSON."""
    document = await state.run_engine(partial(engine.document, doc_id))
    spans = document_page.parse_highlights(hl or [], len(document.text))
    if document_page.wants_html(accept):
        return HTMLResponse(
            document_page.render(document, spans, engine.index_version),
            headers={
                "Content-Security-Policy": document_page.content_security_policy(),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Vary": "Accept",
            },
        )
    return FastJSONResponse(
        {
            "doc_id": document.doc_id,
            "title": document.title,
            "url": followable_url(document.url),
            "published": document.published,
            "source": document.source,
            "text": document.text,
            "metadata": _jsonable(document.metadata),
            "index_version": engine.index_version,
            "highlights": [{"start": s, "end": e, "text": document.text[s:e]} for s, e in spans],
        },
        headers={"Vary": "Accept"},
    )


def add_links(settings: Settings, passages: list[dict[str, Any]]) -> None:
    """Each passage gets the link to its article's page with the passage marked."""
    for passage in passages:
        passage["link"] = document_page.document_link(
            settings.public_url, passage["doc_id"], passage["start"], passage["end"]
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
