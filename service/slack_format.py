"""Answers as Slack messages: mrkdwn text plus Block Kit blocks within Slack's limits.

Slack's rules this follows:
- in mrkdwn, `&`, `<` and `>` are control characters and must be sent as `&amp;`, `&lt;`, `&gt;`;
- links are `<url|label>`;
- a section block's text is at most 3000 characters, a message at most 50 blocks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from rag.types import Answer, Citation, followable_url
from service.document_page import document_link

MAX_SECTION_CHARS = 3000
MAX_BLOCKS = 50
MAX_QUOTE_CHARS = 300
MAX_FALLBACK_CHARS = 3000

# Plain-language explanations of the engine's abstention codes; unknown codes are shown as-is.
REASONS = {
    "no_relevant_passage": "none of the indexed articles discusses this",
    "low_support": "the closest passages do not clearly support an answer",
    "empty_index": "no articles are indexed yet",
    "no_documents": "no articles are indexed yet",
    "filtered_out": "no article matches the filters",
}

_SPACES = re.compile(r"\s+")


def escape(text: str) -> str:
    """Escape Slack's three control characters (the order matters: `&` first)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # Do not leave half an escape sequence (e.g. "&am") at the end.
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + "…"


def link(url: str | None, label: str) -> str:
    """`<url|label>` for http(s) URLs; just the escaped label otherwise (no javascript: links)."""
    safe_label = escape(label.strip() or "untitled")
    if url is None or followable_url(url) is None:
        return safe_label
    # `|` would end the URL part, whitespace and the control characters would break the link.
    safe_url = escape(url.strip()).replace("|", "%7C").replace(" ", "%20")
    return f"<{safe_url}|{safe_label}>"


def explain_reason(reason: str | None) -> str:
    if not reason:
        return "the indexed articles do not support an answer"
    return REASONS.get(reason, reason.replace("_", " "))


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION_CHARS)}}


def citation_url(citation: Citation, public_url: str | None) -> str | None:
    """The service's page of the article with the quote marked when the service has a public
    address; otherwise the article's own URL."""
    if public_url:
        return document_link(public_url, citation.doc_id, citation.start, citation.end)
    return citation.url


def _source_line(citation: Citation, public_url: str | None) -> str:
    title = link(citation_url(citation, public_url), citation.title or citation.source)
    date = f" · {escape(citation.published)}" if citation.published else ""
    quote = escape(truncate(_SPACES.sub(" ", citation.text).strip(), MAX_QUOTE_CHARS))
    return f"*[{citation.n}]* {title}{date}\n>{quote}"


FEEDBACK_ACTIONS = ("feedback_up", "feedback_down")
MAX_BUTTON_VALUE_QUESTION = 1000  # a button's value is at most 2000 characters, JSON-escaped


def feedback_value(answer: Answer) -> str:
    """What a feedback button carries back to us: the question, index version and mode."""
    return json.dumps(
        {"q": answer.question[:MAX_BUTTON_VALUE_QUESTION], "v": answer.index_version[:100], "m": answer.mode[:40],
         "d": [c.doc_id[:100] for c in answer.citations[:5]]},
        ensure_ascii=True,
    )


def _feedback_block(answer: Answer) -> dict[str, Any]:
    value = feedback_value(answer)
    return {
        "type": "actions",
        "block_id": "feedback",
        "elements": [
            {"type": "button", "action_id": action, "value": value,
             "text": {"type": "plain_text", "text": label, "emoji": True}}
            for action, label in zip(FEEDBACK_ACTIONS, ("👍 Right", "👎 Wrong"), strict=True)
        ],
    }


def answer_message(
    answer: Answer, public_url: str | None = None, context: str | None = None, feedback: bool = True
) -> dict[str, Any]:
    """`{"text": fallback, "blocks": [...]}` for an answer (abstained or not); `public_url`: see
    `citation_url`; `context`: the earlier question of the thread this one was read with;
    `feedback`: end with 👍/👎 buttons."""
    if answer.abstained:
        head = f":grey_question: *No answer:* {escape(explain_reason(answer.reason))}."
        body = f"{head}\n{escape(answer.answer)}" if answer.answer else head
        heading = "*Closest passages*"
    else:
        body = escape(answer.answer)
        heading = "*Sources*"
    blocks = [_section(body)]
    if context:
        note = f"_Following up on “{escape(truncate(_SPACES.sub(' ', context), 300))}” in this thread._"
        blocks.insert(0, _section(note))
        body = f"{note}\n{body}"
    citations: Sequence[Citation] = answer.citations
    if citations:
        room = MAX_BLOCKS - len(blocks) - 1 - int(feedback)  # the heading, the buttons
        blocks.append(_section(heading))
        blocks.extend(_section(_source_line(c, public_url)) for c in citations[:room])
    fallback_sources = "\n".join(
        f"[{c.n}] {link(citation_url(c, public_url), c.title or c.source)}"
        + (f" ({escape(c.published)})" if c.published else "")
        for c in citations
    )
    if feedback:
        blocks.append(_feedback_block(answer))
    fallback = f"{body}\n{fallback_sources}" if fallback_sources else body
    return {"text": truncate(fallback, MAX_FALLBACK_CHARS), "blocks": blocks}


def notice_message(mrkdwn: str) -> dict[str, Any]:
    """A short notice (help, acknowledgement, error). The caller escapes any untrusted part."""
    return {"text": truncate(mrkdwn, MAX_FALLBACK_CHARS), "blocks": [_section(mrkdwn)]}
