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
def service_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("page-feedback") / "feedback.sqlite3"


@pytest.fixture(scope="module")
def live_url(fake_engine, fake_index_dir: Path, service_db: Path) -> Iterator[str]:
    settings = Settings(index_dir=fake_index_dir, service_db=service_db)
    app = create_app(settings, lambda _s: fake_engine, wait_for_engine=True)
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
    # The title opens the article on this service with the quote marked; the original is beside it.
    assert "/documents/" in first.locator("a.title").get_attribute("href")
    assert first.locator("a.original").get_attribute("href") == "https://focus.cbbc.org/fake-peppa-pig-raid/"
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
    # A javascript: URL never becomes a link; the title links to this service's page of the article.
    assert page.locator("#result a[href^='javascript']").count() == 0
    assert source.locator("a.original").count() == 0
    assert source.locator("a.title").get_attribute("href").startswith(hostile_url + "/documents/evil?hl=")
    source.locator("blockquote").click()
    page.locator("#answer-text a.cite").click()
    assert "highlight" in source.get_attribute("class")
    assert page.evaluate("window.__pwned") is None


# -- issue 17: the source in context, filters in the URL, feedback, keyboard, states -------------


def test_a_citation_opens_the_article_with_the_quote_marked_and_in_view(page, live_url: str) -> None:
    page.goto(live_url + "/")
    page.fill("#question", PEPPA)
    page.press("#question", "Enter")
    page.wait_for_selector("#sources li")
    quote = page.locator("#source-1 blockquote").text_content()
    page.locator("#source-1 a.in-context").click()
    page.wait_for_selector("mark#hl-1")
    assert "/documents/" in page.url and page.url.endswith("#hl-1")
    assert page.locator("mark#hl-1").text_content() == quote  # the highlight lands on the quoted words
    expect(page.locator("mark#hl-1")).to_be_in_viewport()
    assert "Peppa Pig" in page.locator("h1").text_content()
    assert "2017-12-22" in page.locator(".meta").first.text_content()
    assert page.locator("a", has_text="original article").get_attribute("href").startswith("https://focus.cbbc.org/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.errors == []


def test_filters_live_in_the_url_and_the_answer_states_its_date(page, live_url: str) -> None:
    shared = live_url + "/?q=" + PEPPA.replace(" ", "+") + "&from=2017-01-01&to=2017-12-31"
    page.goto(shared)  # a shared link: filled in and asked at once
    page.wait_for_selector("#answer-text a.cite")
    assert page.input_value("#from") == "2017-01-01" and page.input_value("#to") == "2017-12-31"
    assert page.locator("#filters-box").get_attribute("open") is not None
    assert "As of 2017-12-22" in page.text_content("#context")
    assert "2017-01-01 to 2017-12-31" in page.text_content("#context")
    for date in page.locator("#sources .source-meta").all_text_contents():
        assert date.startswith("2017-")
    # A period with no article: the answer says so, and the URL keeps the new filter.
    page.fill("#from", "1990-01-01")
    page.fill("#to", "1990-12-31")
    page.click("#ask-button")
    expect(page.locator("#notice")).to_contain_text("No answer")
    assert "from=1990-01-01" in page.url and "to=1990-12-31" in page.url


def test_thumbs_down_with_the_right_answer_is_stored(page, live_url: str, service_db: Path) -> None:
    from rag.feedback import SQLiteFeedback

    before = len(SQLiteFeedback(service_db).entries())
    page.goto(live_url + "/")
    page.fill("#question", PEPPA)
    page.press("#question", "Enter")
    page.wait_for_selector("#answer-text a.cite")
    answer = page.text_content("#answer-text")
    page.click("#rate-down")
    expect(page.locator("#feedback-form")).to_be_visible()
    page.fill("#feedback-comment", "It left out the value of the goods.")
    page.fill("#feedback-right", "over £4 million")
    page.click("#feedback-send")
    expect(page.locator("#feedback-status")).to_contain_text("recorded as feedback #")
    entries = SQLiteFeedback(service_db).entries()
    assert len(entries) == before + 1
    entry = entries[-1]
    assert (entry.rating, entry.channel, entry.question) == ("down", "page", PEPPA)
    assert entry.answer == answer and entry.right_answer == "over £4 million"
    assert entry.comment == "It left out the value of the goods." and entry.citations
    assert page.errors == []


def test_the_page_works_with_the_keyboard_alone(page, live_url: str, service_db: Path) -> None:
    from rag.feedback import SQLiteFeedback

    before = len(SQLiteFeedback(service_db).entries())
    page.goto(live_url + "/")
    page.keyboard.press("Tab")  # the first stop is the question
    assert page.evaluate("document.activeElement.id") == "question"
    page.keyboard.type(PEPPA)
    page.keyboard.press("Enter")
    page.wait_for_selector("#answer-text a.cite")
    page.focus("#answer-text a.cite")
    page.keyboard.press("Enter")  # a marker, by keyboard: its source is highlighted and focused
    expect(page.locator("#source-1")).to_have_class("highlight")
    page.focus("#rate-up")
    page.keyboard.press("Enter")
    expect(page.locator("#feedback-status")).to_contain_text("recorded")
    assert SQLiteFeedback(service_db).entries()[-1].rating == "up"
    assert len(SQLiteFeedback(service_db).entries()) == before + 1


def test_the_page_says_when_the_archive_is_loading(page, fake_engine, fake_index_dir: Path, tmp_path: Path) -> None:
    release = threading.Event()

    def slow_factory(_settings):
        release.wait(30)
        return fake_engine

    app = create_app(Settings(index_dir=fake_index_dir, service_db=tmp_path / "f.sqlite3"), slow_factory)
    with LiveServer(app) as server:
        page.goto(server.url + "/")
        expect(page.locator("#banner")).to_contain_text("loading the news archive")
        release.set()
        expect(page.locator("#banner")).to_be_hidden()
