"""Request and response models: the HTTP contract, as pydantic sees it and OpenAPI prints it.

Requests are strict (`extra="forbid"`, no type coercion: `true` is not an integer, `"5"` is not
an integer), so a client learns about a typo instead of silently getting defaults. Responses are
documentation: routes return the core's `as_dict()` bodies directly, and the schemathesis test
checks that they match these models.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from rag.types import Filters

# The SPEC's limits. Settings may lower them further (checked in the routes).
MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 20
DEFAULT_TOP_K = 5
MAX_FILTER_VALUES = 100


def _integral(value: object) -> object:
    # JSON has one number type: 5.0 is the integer 5 (JSON Schema agrees), 5.5 is not. Booleans
    # and strings are left to the strict int check, which refuses them.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


IntegralInt = Annotated[int, BeforeValidator(_integral)]


def _valid_date(value: str) -> str:
    # The pattern guarantees the shape; this rejects impossible dates such as 2021-02-30.
    date.fromisoformat(value)
    return value


IsoDate = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    AfterValidator(_valid_date),
    Field(json_schema_extra={"format": "date"}, examples=["2021-04-28"]),
]

# Trimmed before the length check: "   " is empty, and 2000 characters of text padded with spaces
# is still 2000 characters of question. `\S` tells schema-driven clients that blank is not allowed.
Question = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_QUESTION_CHARS, pattern=r"\S"),
]
FilterValue = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class FiltersIn(BaseModel):
    """Optional restrictions on which passages may be used. Dates are inclusive."""

    model_config = ConfigDict(extra="forbid", strict=True)

    published_from: IsoDate | None = None
    published_to: IsoDate | None = None
    sources: list[FilterValue] = Field(default_factory=list, max_length=MAX_FILTER_VALUES)
    doc_ids: list[FilterValue] = Field(default_factory=list, max_length=MAX_FILTER_VALUES)

    def to_filters(self) -> Filters:
        return Filters(
            published_from=self.published_from,
            published_to=self.published_to,
            sources=tuple(self.sources),
            doc_ids=tuple(self.doc_ids),
        )


class AskRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"question": "How many fake Peppa Pig products were seized?"}]},
    )

    question: Question
    top_k: IntegralInt = Field(default=DEFAULT_TOP_K, ge=1, le=MAX_TOP_K)
    filters: FiltersIn | None = None


class Passage(BaseModel):
    """A quoted span of one document; `start`/`end` index the document's clean text."""

    doc_id: str
    chunk_id: str
    title: str
    url: str | None
    published: str | None
    source: str
    text: str
    # Null only if the index produced a non-finite score (never serialized as NaN).
    score: float | None
    start: int
    end: int
    link: str | None = Field(
        default=None,
        description="This service's page of the article with this passage marked (absolute with RAG_PUBLIC_URL)",
    )


class CitationOut(Passage):
    n: int = Field(description="The number used by the `[n]` markers in the answer")


class AskResponse(BaseModel):
    question: str
    answer: str
    abstained: bool
    reason: str | None = Field(
        default=None, description="Why the answer abstained (or fell back): no_relevant_passage, low_support, …"
    )
    confidence: float | None = Field(
        default=None, description="The evidence score the abstention decision was made on (0..1)"
    )
    citations: list[CitationOut]
    mode: Literal["extractive", "llm", "extractive_fallback"]
    index_version: str
    timings_ms: dict[str, float | None]


class SearchResponse(BaseModel):
    query: str
    hits: list[Passage]
    index_version: str
    timings_ms: dict[str, float | None]


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    url: str | None
    published: str | None
    source: str
    chars: int = Field(description="Length of the clean text")


class DocumentList(BaseModel):
    documents: list[DocumentSummary]
    total: int
    offset: int
    limit: int
    index_version: str


class Highlight(BaseModel):
    start: int
    end: int
    text: str


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    url: str | None
    published: str | None
    source: str
    text: str
    metadata: dict[str, Any]
    index_version: str
    highlights: list[Highlight] = Field(default_factory=list, description="The `hl` ranges asked for, merged")


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    index_version: str
    documents: int
    swapping: bool = Field(default=False, description="A new index version is being loaded beside this one")


class ErrorDetail(BaseModel):
    code: str
    message: str
    request_id: str | None = None
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class SlackMessage(BaseModel):
    """What a slash command answers with (Slack renders it in the channel)."""

    response_type: Literal["in_channel", "ephemeral"]
    text: str
    blocks: list[dict[str, Any]] | None = None


class SlackEventAck(BaseModel):
    """The Events API reply: the challenge for `url_verification`, else a plain acknowledgement."""

    challenge: str | None = None
    ok: bool | None = None
