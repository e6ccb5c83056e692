"""The staff page in a real headless Chromium (Debian's `chromium`, driven by Playwright).

The service runs under uvicorn on a free localhost port; the browser types a question, reads
the cited answer, clicks a `[n]` marker and checks that the source is highlighted and scrolled
into view. A second server answers with markup in every field, which must show up as text and
never run.

Chromium comes from `scripts/install_browser.sh` (apt), never from `playwright install`. If it
is missing these tests fail rather than skip: a page nobody has tested is not a tested page.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect

from rag.settings import Settings
from rag.types import Answer, Citation
from service import create_app

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PEPPA = "How many fake Peppa Pig products were seized?"
PHONE = {"width": 390, "height": 640}


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a background thread."""

    def __init__(self, app) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install_browser.sh (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # expect() polls inside the page without eval, which the page's CSP forbids; wait_for_function
    # with a string predicate needs eval and failed in CI once its first check came too early.
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def live_url(fake_engine, fake_index_dir: Path) -> Iterator[str]:
    app = create_app(Settings(index_dir=fake_index_dir), lambda _s: fake_engine, wait_for_engine=True)
    with LiveServer(app) as server:
        yield server.url


@pytest.fixture()
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def _in_viewport(page, selector: str) -> bool:
    return page.eval_on_selector(
        selector,
        "el => { const r = el.getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0; }",
    )


def test_typed_question_gets_a_cited_answer_and_markers_jump_to_sources(page, live_url: str) -> None:
    page.goto(live_url + "/")
    assert page.title() == "Ask the news archive"
    page.fill("#question", PEPPA)
    page.press("#question", "Enter")  # Enter asks; Shift+Enter would add a line
    page.wait_for_selector("#answer-text a.cite")

    answer = page.text_content("#answer-text")
    assert "600,000" in answer
    markers = page.locator("#answer-text a.cite")
    sources = page.locator("#sources li")
    assert markers.count() >= 1 and sources.count() == markers.count()
    first = sources.nth(0)
    assert "Peppa Pig" in first.locator(".title").text_content()
    assert first.locator("a.title").get_attribute("href") == "https://focus.cbbc.org/fake-peppa-pig-raid/"
    assert "2017-12-22" in first.locator(".source-meta").text_content()
    assert first.locator("blockquote").text_content().strip()

    # Click the last marker: its source is highlighted (only it) and scrolled into view.
    page.evaluate("window.scrollTo(0, 0)")
    last = markers.nth(markers.count() - 1)
    n = last.get_attribute("data-n")
    target = f"#source-{n}"
    was_visible = _in_viewport(page, target)
    last.click()
    expect(page.locator(target)).to_be_in_viewport(ratio=1)
    assert "highlight" in page.get_attribute(target, "class")
    assert page.locator("#sources li.highlight").count() == 1
    if not was_visible:
        assert page.evaluate("window.scrollY") > 0

    # Readable on a phone: nothing overflows sideways, inputs stay legible.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('#question')).fontSize)") >= 16
    assert page.errors == []  # no script errors, no CSP violations


def test_loading_and_error_states(page, live_url: str) -> None:
    pending = []
    page.route("**/ask", lambda route: pending.append(route))
    page.goto(live_url + "/")
    page.fill("#question", PEPPA)
    page.click("#ask-button")
    expect(page.locator("#ask-button")).to_be_disabled()
    assert "Searching" in page.text_content("#status")
    assert page.get_attribute("#main", "aria-busy") == "true"
    while not pending:  # the request is held until we answer it
        page.wait_for_timeout(20)
    pending.pop().fulfill(
        status=422,
        content_type="application/json",
        body='{"error": {"code": "invalid_request", "message": "question: too long <b>x</b>"}}',
    )
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error") == "question: too long <b>x</b>"  # shown as text
    assert not page.is_disabled("#ask-button")

    page.unroute("**/ask")
    page.route("**/ask", lambda route: route.abort())
    page.click("#ask-button")
    expect(page.locator("#error")).to_contain_text("Could not reach")

    page.unroute("**/ask")
    page.fill("#question", "   ")
    page.click("#ask-button")
    expect(page.locator("#error")).to_contain_text("type a question")


@pytest.fixture(scope="module")
def hostile_url(fake_index_dir: Path, stub_engine_cls) -> Iterator[str]:
    """A server whose answer carries markup and script in every field a document can fill."""
    payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    citation = Citation(
        n=1,
        doc_id="evil",
        chunk_id="c",
        title=f"Title {payload}",
        url="javascript:window.__pwned=3",
        published="2024-01-02",
        source=f"evil.jsonl{payload}",
        text=f"The passage {payload} <b>bold</b>",
        score=0.9,
        start=0,
        end=10,
    )
    answer = Answer("q", f"Answer {payload} [1].", False, (citation,), "extractive", "stub-1", {"total": 1.0})
    engine = stub_engine_cls(answer=answer)
    app = create_app(Settings(index_dir=fake_index_dir), lambda _s: engine, wait_for_engine=True)
    with LiveServer(app) as server:
        yield server.url


def test_document_text_is_shown_as_text_and_never_runs(page, hostile_url: str) -> None:
    page.goto(hostile_url + "/")
    page.fill("#question", "anything")
    page.click("#ask-button")
    page.wait_for_selector("#sources li")
    page.wait_for_timeout(200)  # let an injected onerror handler fire, if one existed

    assert page.evaluate("window.__pwned") is None
    assert page.locator("#result script, #result img, #result b").count() == 0
    assert "<script>window.__pwned=2</script>" in page.text_content("#answer-text")
    source = page.locator("#source-1")
    assert '<img src=x onerror="window.__pwned=1">' in source.locator(".title").text_content()
    assert "<b>bold</b>" in source.locator("blockquote").text_content()
    # A javascript: URL never becomes a link.
    assert source.locator("a.title").count() == 0
    source.locator(".title").click()
    page.locator("#answer-text a.cite").click()
    assert "highlight" in source.get_attribute("class")
    assert page.evaluate("window.__pwned") is None
