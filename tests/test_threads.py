"""Slack thread context (issue 17): the follow-up rule, and the thread memory on both stores."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rag.threads import PostgresThreads, SQLiteThreads, with_context

SINGLES = "How much did Alibaba sell on Singles' Day 2017?"


@pytest.mark.parametrize(
    "question, expected",
    [
        ("And the year before?", "And the year before? (Alibaba, Singles, Day, 2017)"),
        ("What about in 2016?", "What about in 2016? (Alibaba, Singles, Day)"),  # its own year wins
        ("And what did JD sell?", "And what did JD sell? (2017)"),  # its own subject wins
        ("How much did JD sell in 2016?", "How much did JD sell in 2016?"),  # lacks nothing
    ],
)
def test_a_follow_up_borrows_only_what_it_lacks(question: str, expected: str) -> None:
    assert with_context(question, SINGLES) == expected


def test_an_earlier_question_with_nothing_to_carry_changes_nothing() -> None:
    assert with_context("And then?", "what happened next?") == "And then?"


@pytest.fixture(params=["sqlite", "postgresql"])
def memory_factory(request, tmp_path: Path):
    if request.param == "sqlite":
        return lambda ttl: SQLiteThreads(tmp_path / "service.sqlite3", ttl)
    url = request.getfixturevalue("postgres_url")
    return lambda ttl: PostgresThreads(url, ttl)


def test_threads_are_remembered_durably_and_forgotten_after_their_age(memory_factory) -> None:
    memory = memory_factory(3600)
    assert memory.recall("T:C:1") is None
    memory.remember("T:C:1", SINGLES)
    memory.remember("T:C:2", "Another thread's question?")
    memory.remember("T:C:1", "And the year before? (Alibaba, 2017)")  # the latest question is the context
    reopened = memory_factory(3600)  # another process, the same database
    assert reopened.recall("T:C:1") == "And the year before? (Alibaba, 2017)"
    assert reopened.recall("T:C:2") == "Another thread's question?"
    short = memory_factory(0.2)
    time.sleep(0.4)
    assert short.recall("T:C:1") is None
    short.remember("T:C:3", "x" * 5000)  # writing prunes what is too old, and bounds the text
    assert memory_factory(3600).recall("T:C:2") is None
    assert len(memory_factory(3600).recall("T:C:3")) == 2000
