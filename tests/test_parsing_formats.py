"""Each supported format becomes clean documents with title, url, date and metadata."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rag.parsing import make_doc_id, parse_file, parse_paths
from rag.parsing.dates import to_iso_date


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- ids


def test_make_doc_id_is_the_sha256_prefix_of_source_and_key() -> None:
    expected = hashlib.sha256(b"a.txt\nhttps://example.com/x").hexdigest()[:16]
    assert make_doc_id("a.txt", "https://example.com/x") == expected
    assert make_doc_id("b.txt", "https://example.com/x") != expected


# -------------------------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 12 Jun 2023 06:30:32 +0000", "2023-06-12"),
        ("Tue, 20 Dec 2016 23:48:56 -0500", "2016-12-20"),  # the publisher's own calendar day
        ("2021-04-28T06:44:38Z", "2021-04-28"),
        ("2021-04-28", "2021-04-28"),
        ("2021/04/28", "2021-04-28"),
        ("28 April 2021", "2021-04-28"),
        ("April 28, 2021", "2021-04-28"),
        ("2021-02-30", None),
        ("last Tuesday", None),
        ("", None),
        (None, None),
    ],
)
def test_dates_become_iso(value: str | None, expected: str | None) -> None:
    assert to_iso_date(value) == expected


# ----------------------------------------------------------------------------------------- markdown


def test_markdown_with_front_matter(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "note.md",
        "---\n"
        'title: "Trade fair opens"\n'
        "date: 2024-03-05\n"
        "url: https://example.com/fair\n"
        "author: Ann Lee\n"
        "---\n\n"
        "# Heading inside\n\n"
        "The fair has **120 exhibitors** and a [website](https://example.com)\n"
        "that lists them all.\n\n"
        "- first item\n"
        "- second `item`\n\n"
        "![a photo](photo.jpg)\n\n"
        "> A quoted line.\n",
    )
    [doc] = parse_file(path, "note.md")
    assert doc.title == "Trade fair opens"
    assert doc.url == "https://example.com/fair"
    assert doc.published == "2024-03-05"
    assert doc.metadata == {"author": "Ann Lee"}
    assert doc.source == "note.md"
    assert doc.text == (
        "Heading inside\n\n"
        "The fair has 120 exhibitors and a website that lists them all.\n\n"
        "first item\n\n"
        "second item\n\n"
        "A quoted line."
    )
    assert doc.doc_id == make_doc_id("note.md", "https://example.com/fair")


def test_markdown_title_from_first_heading_is_not_repeated(tmp_path: Path) -> None:
    path = _write(tmp_path / "plain.markdown", "Port traffic rises\n==================\n\nVolumes grew 5%.\n")
    [doc] = parse_file(path, "plain.markdown")
    assert doc.title == "Port traffic rises"
    assert doc.text == "Volumes grew 5%."
    assert doc.url is None and doc.published is None
    assert doc.doc_id == make_doc_id("plain.markdown", "Port traffic rises")


# --------------------------------------------------------------------------------------------- html

HTML_PAGE = """<!doctype html>
<html><head>
  <title>Exporters gain ground | Example News</title>
  <meta property="og:title" content="Exporters gain ground">
  <meta property="article:published_time" content="2023-06-12T06:30:32+01:00">
  <meta name="description" content="Survey results.">
  <link rel="canonical" href="https://news.example.com/exporters">
  <style>p { color: red }</style>
  <script>var tracking = "SECRET";</script>
</head><body>
  <nav><a href="/">Home</a> <a href="/world">World</a></nav>
  <article>
    <h1>Exporters gain ground</h1>
    <p>Seven in ten firms&nbsp;expect   exports to <em>grow</em>.</p>
    <script>alert("no")</script>
    <p>“Quotes” stay curly &amp; entities decode.<br>Same paragraph.</p>
    <ul><li>One</li><li>Two</li></ul>
  </article>
  <footer>Copyright Example News</footer>
</body></html>
"""


def test_html_page(tmp_path: Path) -> None:
    path = _write(tmp_path / "page.html", HTML_PAGE)
    [doc] = parse_file(path, "page.html")
    assert doc.title == "Exporters gain ground"
    assert doc.url == "https://news.example.com/exporters"
    assert doc.published == "2023-06-12"
    assert doc.metadata == {"description": "Survey results."}
    assert doc.text == (
        "Seven in ten firms expect exports to grow.\n\n"
        "“Quotes” stay curly & entities decode. Same paragraph.\n\n"
        "One\n\n"
        "Two"
    )
    for gone in ("SECRET", "alert", "color", "Home", "Copyright"):
        assert gone not in doc.text


def test_html_without_metadata_falls_back_to_title_tag_and_time(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "bare.htm",
        "<html><head><title>Bare page</title></head><body><div>Intro text"
        "<div>Nested block</div></div><time datetime='2020-03-31'>31 March</time></body></html>",
    )
    [doc] = parse_file(path, "bare.htm")
    assert (doc.title, doc.url, doc.published) == ("Bare page", None, "2020-03-31")
    assert doc.text == "Intro text\n\nNested block\n\n31 March"


# -------------------------------------------------------------------------------------------- feeds

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Example Feed</title>
  <link>https://feed.example.com/</link>
  <item>
    <title>First story</title>
    <link>https://feed.example.com/first/</link>
    <pubDate>Mon, 12 Jun 2023 06:30:32 +0000</pubDate>
    <guid isPermaLink="false">https://feed.example.com/?p=1</guid>
    <dc:creator>Jo Writer</dc:creator>
    <description><![CDATA[An opening paragraph that is long enough to be an excerpt […]]]></description>
    <content:encoded><![CDATA[<p>An opening paragraph that is long enough to be an excerpt, in full.</p>
      <p>Second <b>bold</b> paragraph.</p>
      <p><img alt="launchpad gateway" src="x.png"></p>
      <p>launchpad gateway</p>
      <p>Read Also <a href="/other">Another story</a></p>
      <p>The post <a href="https://feed.example.com/first/">First story</a> appeared first on
         <a href="https://feed.example.com">Example Feed</a>.</p>]]></content:encoded>
  </item>
  <item>
    <title>Second &amp; last story</title>
    <link>https://feed.example.com/second/</link>
    <pubDate>Tue, 13 Jun 2023 08:00:00 +0000</pubDate>
    <description>&lt;p&gt;Only a summary here.&lt;/p&gt;</description>
  </item>
</channel>
</rss>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom Example</title>
  <id>urn:example:feed</id>
  <updated>2024-01-02T00:00:00Z</updated>
  <entry>
    <title type="html">Markets &lt;i&gt;rally&lt;/i&gt;</title>
    <link rel="alternate" href="https://atom.example.com/markets"/>
    <id>urn:example:1</id>
    <published>2024-01-01T09:00:00+08:00</published>
    <updated>2024-01-02T00:00:00Z</updated>
    <author><name>Li Wei</name></author>
    <content type="html">&lt;p&gt;Stocks rose.&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;
      &lt;p&gt;Bonds fell.&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Only updated</title>
    <link href="https://atom.example.com/updated"/>
    <id>urn:example:2</id>
    <updated>2024-01-02T00:00:00Z</updated>
    <summary>Plain summary text.</summary>
  </entry>
</feed>
"""


def test_rss_feed(tmp_path: Path) -> None:
    path = _write(tmp_path / "feed.xml", RSS)
    first, second = parse_file(path, "feed.xml")
    assert (first.title, first.url, first.published) == (
        "First story",
        "https://feed.example.com/first/",
        "2023-06-12",
    )
    assert first.text == (
        "An opening paragraph that is long enough to be an excerpt, in full.\n\nSecond bold paragraph."
    )
    assert first.metadata["guid"] == "https://feed.example.com/?p=1"
    assert first.metadata["author"] == "Jo Writer"
    assert first.metadata["feed_title"] == "Example Feed"
    assert (second.title, second.url, second.published) == (
        "Second & last story",
        "https://feed.example.com/second/",
        "2023-06-13",
    )
    assert second.text == "Only a summary here."
    assert first.doc_id == make_doc_id("feed.xml", "https://feed.example.com/first/")


def test_atom_feed(tmp_path: Path) -> None:
    path = _write(tmp_path / "feed.atom", ATOM)
    first, second = parse_file(path, "feed.atom")
    assert (first.title, first.url, first.published) == (
        "Markets rally",
        "https://atom.example.com/markets",
        "2024-01-01",
    )
    assert first.text == "Stocks rose.\n\nBonds fell."
    assert first.metadata["author"] == "Li Wei"
    assert first.metadata["guid"] == "urn:example:1"
    assert (second.title, second.published, second.text) == (
        "Only updated",
        "2024-01-02",
        "Plain summary text.",
    )


# ------------------------------------------------------------------------------------------- json(l)


def test_jsonl_keeps_ids_verbatim_and_extra_keys_as_metadata(tmp_path: Path) -> None:
    records = [
        {
            "id": "Doc/001 ",
            "text": "Line one.\n\n\n  Line   two.\xa0End",
            "title": "A title",
            "url": "https://j.example.com/1",
            "published": "Wed, 28 Apr 2021 06:44:38 +0000",
            "source": "Reuters",
            "tags": ["trade", "china"],
        },
        {"id": 42, "text": "Numeric id.", "published": "not a date"},
    ]
    path = _write(tmp_path / "docs.jsonl", "\n".join(json.dumps(r) for r in records) + "\n\n")
    first, second = parse_file(path, "docs.jsonl")
    assert first.doc_id == "Doc/001 "
    assert (first.title, first.url, first.published) == ("A title", "https://j.example.com/1", "2021-04-28")
    assert first.text == "Line one.\n\nLine two. End"
    assert first.source == "docs.jsonl"
    assert first.metadata == {"source": "Reuters", "tags": ["trade", "china"]}
    assert second.doc_id == "42"
    assert second.title == "Numeric id."
    assert second.published is None
    assert second.metadata == {"published_raw": "not a date"}


def test_json_list(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "docs.json",
        json.dumps([{"id": "x1", "text": "Body one.", "lang": "en"}, {"text": "Body two.", "title": "T2"}]),
    )
    first, second = parse_file(path, "docs.json")
    assert (first.doc_id, first.text, first.metadata) == ("x1", "Body one.", {"lang": "en"})
    assert (second.doc_id, second.title) == (make_doc_id("docs.json", "T2"), "T2")


# ---------------------------------------------------------------------------------------- plain text


def test_plain_text_without_headlines_is_one_document_titled_by_its_first_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "memo.txt", "Quarterly memo\n\nSales rose. Costs fell.\n\nMore next time.\n")
    [doc] = parse_file(path, "memo.txt")
    assert doc.title == "Quarterly memo"
    assert doc.text == "Sales rose. Costs fell.\n\nMore next time."


def test_plain_text_starting_with_prose_is_titled_by_the_file_stem(tmp_path: Path) -> None:
    path = _write(tmp_path / "field_notes.txt", "Sales rose this quarter. Costs fell.\nA second line.\n")
    [doc] = parse_file(path, "field_notes.txt")
    assert doc.title == "field_notes"
    assert doc.text == "Sales rose this quarter. Costs fell. A second line."


FILLER = (
    "The committee met for several hours on Tuesday and heard evidence from residents, engineers "
    "and the operators of the service, who all agreed that the works had overrun. "
)


def test_plain_text_headline_rules_are_general(tmp_path: Path) -> None:
    text = "\n\n".join(
        [
            "Harbour bridge reopens after repairs",
            FILLER + "Traffic returned at noon.",
            "Short Subheading Here",  # too early for a new article: stays a subheading
            FILLER * 2 + "Timetables are online. council approves new budget",  # glued headline
            FILLER * 2,
            "Council Approves New Budget After Debate",  # repeats the title: a subheading
            FILLER,
            "By Jane Smith",
            "Storm warning issued for the coast.",  # period-ended headline after a byline
            FILLER,
        ]
    )
    path = _write(tmp_path / "digest.txt", text)
    docs = parse_file(path, "digest.txt")
    assert [d.title for d in docs] == [
        "Harbour bridge reopens after repairs",
        "council approves new budget",
        "Storm warning issued for the coast",
    ]
    assert "\n\nShort Subheading Here\n\n" in docs[0].text
    assert docs[0].text.endswith("Timetables are online.")
    assert "\n\nCouncil Approves New Budget After Debate\n\n" in docs[1].text
    assert docs[1].text.endswith("By Jane Smith")
    assert docs[1].metadata == {"author": "Jane Smith"}
    assert docs[2].text == FILLER.strip()


def test_same_titles_in_one_file_get_distinct_stable_ids(tmp_path: Path) -> None:
    records = [{"title": "Daily market report", "text": f"Report {n}."} for n in (1, 2, 3)]
    path = _write(tmp_path / "daily.jsonl", "\n".join(json.dumps(r) for r in records))
    docs = parse_file(path, "daily.jsonl")
    assert [d.doc_id for d in docs] == [
        make_doc_id("daily.jsonl", "Daily market report"),
        make_doc_id("daily.jsonl", "Daily market report#2"),
        make_doc_id("daily.jsonl", "Daily market report#3"),
    ]
    assert [d.doc_id for d in parse_file(path, "daily.jsonl")] == [d.doc_id for d in docs]


def test_a_repeated_headline_inside_an_article_is_a_subheading(tmp_path: Path) -> None:
    text = "\n\n".join(["Daily market report", FILLER * 3, "Daily market report", "Prices held steady today."])
    [doc] = parse_file(_write(tmp_path / "twice.txt", text), "twice.txt")
    assert doc.title == "Daily market report"
    assert doc.text.endswith("Daily market report\n\nPrices held steady today.")


# ------------------------------------------------------------------------------------------ walking


def test_folders_are_walked_sorted_skipping_hidden_and_unknown_files(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    _write(root / "b.md", "# B\n\nBody b.")
    _write(root / "a" / "z.txt", "Z title\n\nBody z.")
    _write(root / "a" / "notes.pdf", "not a supported file")
    _write(root / ".hidden.md", "# Hidden\n\nSecret.")
    _write(root / ".git" / "c.md", "# In a hidden folder\n\nSecret.")
    _write(root / "c.JSONL", json.dumps({"id": "c1", "text": "Body c."}))
    extra = _write(tmp_path / "loose.html", "<title>Loose</title><p>Loose body.</p>")
    docs = parse_paths([root, extra])
    assert [(d.source, d.title) for d in docs] == [
        ("a/z.txt", "Z title"),
        ("b.md", "B"),
        ("c.JSONL", "Body c."),
        ("loose.html", "Loose"),
    ]
    assert all("Secret" not in d.text for d in docs)


def test_a_file_reached_twice_is_parsed_once(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    path = _write(root / "x.md", "# X\n\nBody.")
    docs = parse_paths([root, path])
    assert [d.source for d in docs] == ["x.md"]


def test_an_empty_folder_gives_no_documents(tmp_path: Path) -> None:
    assert parse_paths([tmp_path]) == []


# ------------------------------------------------------------------------------ flattened feed dump

FLAT_FEED = (
    "Chan https://x.example/ About us Wed, 23 Apr 2025 09:54:15 +0000 en-GB hourly 1 "
    "https://wordpress.org/?v=6.9 https://x.example/icon.png Chan https://x.example/ 32 32 "
    "10 ways to win https://x.example/a/ Mon, 12 Jun 2023 06:30:32 +0000 https://x.example/?p=1 "
    "The opening paragraph of the first article, which the excerpt…\n\n]]>\n"
    "The opening paragraph of the first article, which the excerpt repeats.\n\n"
    "Second paragraph.\n\n]]>\n"
    "Second item https://x.example/b/ https://x.example/b/#respond Tue, 13 Jun 2023 23:30:00 -0500 "
    "https://x.example/?p=2 Body of…\n\n]]>\nBody of two.\n\n]]>\nhttps://x.example/b/feed/ 0\n"
)


def test_flattened_feed_without_trailers(tmp_path: Path) -> None:
    path = _write(tmp_path / "dump.txt", FLAT_FEED)
    first, second = parse_file(path, "dump.txt")
    assert (first.title, first.url, first.published) == ("10 ways to win", "https://x.example/a/", "2023-06-12")
    assert first.text == ("The opening paragraph of the first article, which the excerpt repeats.\n\nSecond paragraph.")
    assert (second.title, second.url, second.published) == ("Second item", "https://x.example/b/", "2023-06-13")
    assert second.text == "Body of two."
    assert second.metadata["guid"] == "https://x.example/?p=2"
