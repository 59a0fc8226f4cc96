"""HTML translated as HTML (evo_mt.runtime.text.documents.html): the tag tree kept tag for tag,
kept elements byte for byte, inline tags around the words they marked; the CLI and the API alike."""

import json
import os
from html.parser import HTMLParser
from pathlib import Path

import httpx
import lxml.html
from conftest import StandInTranslator, evo_mt, toy_lines
from hypothesis import given
from hypothesis import strategies as st

from evo_mt.evidence.serve_load import ServerProcess
from evo_mt.runtime.text.documents.html import translate_html
from evo_mt.runtime.text.inline import translate_marked

UPPER = StandInTranslator(lambda words: [w.upper() for w in words], lambda words: list(range(len(words))))
REVERSED = StandInTranslator(
    lambda words: [w.upper() for w in words[::-1]], lambda words: list(range(len(words)))[::-1]
)
DOUBLED = StandInTranslator(lambda words: [w.upper() for word in words for w in (word, word + "x")])


def by(translator):
    return lambda page: translate_html(page, lambda units: translate_marked(translator, units))


class _Tags(HTMLParser):
    """A page's tags as written, in order, and the text of what is kept as it is."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(("start", self.get_starttag_text()))

    def handle_startendtag(self, tag, attrs):
        self.tags.append(("startend", self.get_starttag_text()))

    def handle_endtag(self, tag):
        self.tags.append(("end", tag))

    def handle_comment(self, data):
        self.tags.append(("comment", data))


def tags(page):
    reader = _Tags()
    reader.feed(page)
    reader.close()
    return reader.tags


def tree(page):
    """The page's element tree as lxml's HTML parser builds it: (tag, attributes) in order."""
    return [(element.tag, dict(element.attrib)) for element in lxml.html.document_fromstring(page).iter()]


WORDS = st.sampled_from(["red", "car", "a", "goes", "home", ".", "&amp;", "&nbsp;", "&copy;", "x&lt;y"])
INLINE = st.sampled_from(["b", "i", "em", "strong", 'a href="p.html?a=1&amp;b=2"', "span class='c'", "sub"])
ATOMS = st.sampled_from(
    ["<br>", "<br/>", "<img src=x.png alt='a red car'>", "<!-- note -->", "<code>a  &lt; b</code>"]
)


@st.composite
def prose(draw, depth=0):
    """Words with inline elements nested in them, and atoms."""
    parts = []
    for _ in range(draw(st.integers(1, 5))):
        choice = draw(st.integers(0, 5 if depth < 2 else 3))
        if choice <= 2:
            parts.append(draw(WORDS))
        elif choice == 3:
            parts.append(draw(ATOMS))
        else:
            tag = draw(INLINE)
            parts.append(f"<{tag}>{draw(prose(depth + 1))}</{tag.split()[0]}>")
    return draw(st.sampled_from([" ", "\n  "])).join(parts)


@st.composite
def pages(draw):
    blocks = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["p", "li", "h2", "td", "div", "pre", "script", "keep"]))
        if kind == "pre":
            blocks.append("<pre>  a . b\n  <b>c</b> &amp; d</pre>")
        elif kind == "script":
            blocks.append("<script>if (a < b && c) { x = '</p>'; }</script>")
        elif kind == "keep":
            blocks.append(f'<p translate="no">{draw(prose())}</p>')
        else:
            blocks.append(f"<{kind}>{draw(prose())}</{kind}>")
    head = "<!DOCTYPE html>\n<html><head><title>a red car</title></head>\n<body>\n"
    return head + "\n".join(blocks) + "\n</body></html>\n"


@given(pages(), st.sampled_from([UPPER, REVERSED, DOUBLED]))
def test_the_tag_tree_comes_back_tag_for_tag_and_what_is_kept_byte_for_byte(page, translator):
    translated = by(translator)(page)
    assert tags(translated) == tags(page)
    assert tree(translated) == tree(page)
    kept = ("<pre>  a . b\n  <b>c</b> &amp; d</pre>", "<script>if (a < b && c) { x = '</p>'; }</script>")
    assert [translated.count(element) for element in kept] == [page.count(element) for element in kept]
    for kept in lxml.html.document_fromstring(page).iter("code"):
        whole = lxml.html.tostring(lxml.html.document_fromstring(translated))
        assert lxml.html.tostring(kept, with_tail=False) in whole


def test_inline_tags_go_around_the_words_they_marked_and_entities_come_back_as_written():
    page = (
        '<p class="x">A <b>red <i>car</i></b> goes&copy; home &amp; <a href="h.html" title="home">stays</a>.'
        "<br>\n<code>ls -l</code> works <span translate=\"no\">as is</span> .</p>"
    )
    assert by(UPPER)(page) == (
        '<p class="x">A <b>RED <i>CAR</i></b> GOES&copy; HOME &amp; <a href="h.html" title="home">STAYS</a>.'
        "<br>\n<code>ls -l</code> WORKS <span translate=\"no\">as is</span> .</p>"
    )
    # A reordering translation: the tags follow the words (REVERSED aligns each word with its own).
    assert by(REVERSED)("<p>a <b>red</b> car</p>") == "<p>CAR <b>RED</b> A</p>"


def test_format_html_through_the_api_equals_the_cli(exported_toy, toy_run, fairseq_env, tmp_path):
    first, second = toy_lines(toy_run, 2)
    words = first.split()
    page = (
        f"<!DOCTYPE html>\n<html><body><h1>{second}</h1>\n<p>{' '.join(words[:2])} <b>{words[2]} "
        f"<i>{words[3]}</i></b> {' '.join(words[4:])} {second}</p>\n<pre>{first}</pre></body></html>\n"
    )
    document = tmp_path / "page.html"
    document.write_text(page)
    done = evo_mt(
        "translate", str(exported_toy), "--input", str(document), "--format", "html", env=fairseq_env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert tags(done.stdout) == tags(page) and f"<pre>{first}</pre>" in done.stdout
    plain = evo_mt("translate", str(exported_toy), env=fairseq_env, input=f"{second}\n").stdout.strip()
    assert f"<h1>{plain}</h1>" in done.stdout
    with ServerProcess(exported_toy, env=fairseq_env) as server:
        answer = httpx.post(f"{server.url}/translate", json={"q": page, "format": "html"}, timeout=60)
        lines = httpx.post(f"{server.url}/translate", json={"text": [page], "format": "html"}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["translatedText"] == done.stdout
    assert json.loads(lines.text)["translations"] == [done.stdout]
    # Both pages as a browser shows them, side by side: the translation keeps the source's
    # layout, its bold and italic words, and its <pre> untouched (docs/html-page.png).
    from playwright.sync_api import sync_playwright
    from test_serve_libretranslate import CHROMIUM_ARGS, chromium

    browser_path = chromium()
    assert browser_path, "no Chromium: scripts/setup_browser.sh (make test) installs Debian's"
    picture = Path(os.environ.get("EVO_MT_HTML_SCREENSHOT") or tmp_path / "html-page.png")
    frame = "flex:1 1 0;min-width:0;padding:0 1em;border:1px solid #ccc"
    framed = "".join(
        f'<div style="{frame}"><h4>{title}</h4>{body}</div>'
        for title, body in (("source", page), ("--format html", done.stdout))
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            view = browser.new_page(viewport={"width": 1100, "height": 330})
            style = "<style>pre { white-space: pre-wrap } h1 { font-size: 1.3em }</style>"
            view.set_content(f'{style}<body style="display:flex;font-family:sans-serif">{framed}</body>')
            assert view.inner_text("div:nth-child(2) h1") == plain
            assert view.inner_text("div:nth-child(2) pre") == first
            assert view.inner_text("div:nth-child(2) b").strip()  # bold words, on some translation
            view.screenshot(path=str(picture))
        finally:
            browser.close()
    assert picture.stat().st_size > 5_000
