"""Small generated news corpora for the ingest tests."""

from __future__ import annotations

import json
from pathlib import Path


def ward_news(folder: Path, articles: int = 40, long_sentence: bool = False) -> Path:
    """`articles` JSONL articles of 30 sentences each (one file in `folder`); `long_sentence`: the
    first one ends with a sentence longer than any chunk."""
    folder.mkdir()
    lines = []
    for n in range(articles):
        body = " ".join(
            f"Report {n}.{s}: the council of Ward {n} approved {s * 7 + n} new homes on street {s} this week."
            for s in range(30)
        )
        if long_sentence and n == 0:
            body += " The plan lists " + ", ".join(f"site {i} on road {i * 3}" for i in range(200)) + "."
        lines.append(json.dumps({"id": f"a{n}", "title": f"Ward {n} housing", "text": body}))
    (folder / "news.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
