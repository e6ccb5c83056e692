"""POST /feedback: 👍/👎 on an answer, with what was wrong and the right answer (`rag.feedback`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from rag.feedback import MAX_ANSWER_CHARS, MAX_CITATIONS, MAX_TEXT_CHARS, Feedback
from service import openapi as docs
from service.deps import MetricsDep, StateDep
from service.responses import FastJSONResponse

router = APIRouter(tags=["feedback"])


class CitedSpan(BaseModel):
    model_config = ConfigDict(extra="ignore")
    doc_id: str = Field(max_length=500)
    chunk_id: str | None = Field(default=None, max_length=200)
    start: int | None = Field(default=None, ge=0)
    end: int | None = Field(default=None, ge=0)


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: Literal["up", "down"]
    question: str = Field(min_length=1, max_length=2000)
    answer: str = Field(max_length=MAX_ANSWER_CHARS)
    mode: str = Field(max_length=40)
    index_version: str = Field(max_length=100)
    citations: list[CitedSpan] = Field(default_factory=list, max_length=MAX_CITATIONS)
    comment: str | None = Field(default=None, max_length=MAX_TEXT_CHARS, description="What was wrong")
    right_answer: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    channel: Literal["page", "api"] = "api"


class FeedbackOut(BaseModel):
    id: int
    stored: Literal[True]


@router.post(
    "/feedback", response_model=FeedbackOut, status_code=201, responses=docs.FEEDBACK_RESPONSES,
    summary="Rate an answer",
)
async def post_feedback(
    body: Annotated[FeedbackIn, Body()], state: StateDep, metrics: MetricsDep
) -> FastJSONResponse:
    """Stored durably (SQLite beside the index, or the PostgreSQL store) before the 201."""
    entry = Feedback(
        rating=body.rating, question=body.question, answer=body.answer, mode=body.mode,
        index_version=body.index_version, citations=tuple(c.model_dump(exclude_none=True) for c in body.citations),
        comment=(body.comment or "").strip() or None, right_answer=(body.right_answer or "").strip() or None,
        channel=body.channel,
    )
    entry_id = await state.record_feedback(entry)
    metrics.feedback.labels(entry.rating, entry.channel).inc()
    return FastJSONResponse({"id": entry_id, "stored": True}, status_code=201)
