"""Corpus readers, pair filter and downloads, on archives fabricated here in the official layouts."""

import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Tuple

import pytest

from evo_mt.pipeline.corpora import iwslt14, wmt14
from evo_mt.pipeline.corpora.download import extract, fetch, obtain
from evo_mt.pipeline.corpora.text import keep_pair
from evo_mt.pipeline.recipes import CleanConfig, CorpusConfig, Recipe
from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.files import read_lines

Pair = Tuple[str, str]


def make_tgz(path: Path, members: Dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def unpack(archive: Path, folder: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


def lines(text_lines: List[str]) -> str:
    return "".join(line + "\n" for line in text_lines)


def make_recipe(tmp_path: Path, corpus: str, langs: Pair, valid_every: int, max_tokens: int, lower: bool):
    return Recipe(
        name=f"test-{corpus}",
        source_lang=langs[0],
        target_lang=langs[1],
        corpus=CorpusConfig(name=corpus, lowercase=lower, valid_every=valid_every),
        folder=tmp_path,
        clean=CleanConfig(min_tokens=1, max_tokens=max_tokens, max_ratio=1.5),
    )


def read_split(out: Path, split: str, langs: Pair) -> List[Pair]:
    source, target = (read_lines(out / f"{split}.{lang}") for lang in langs)
    assert len(source) == len(target), f"{split} is not line-aligned"
    return list(zip(source, target, strict=True))


def every_nth(pairs: List[Pair], n: int) -> Tuple[List[Pair], List[Pair]]:
    """(train, valid) as awk NR%n splits them."""
    train = [p for i, p in enumerate(pairs, 1) if i % n]
    valid = [p for i, p in enumerate(pairs, 1) if i % n == 0]
    return train, valid


def lower(pairs: List[Pair]) -> List[Pair]:
    return [(s.lower(), t.lower()) for s, t in pairs]


# ---------------------------------------------------------------------------------------------------
# A local HTTP server (127.0.0.1 only) with optional Range support


class FileHandler(http.server.BaseHTTPRequestHandler):
    """Serves server.files; honours Range except under /norange/; /flaky/ cuts its first answer short."""

    def do_GET(self) -> None:
        data = self.server.files.get(self.path.split("/")[-1])
        wanted = self.headers.get("Range")
        if data is None or self.path.startswith("/missing/"):
            self.server.log.append((self.path, wanted, 404))
            self.send_error(404)
            return
        start = 0
        if wanted and not self.path.startswith("/norange/"):
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.server.log.append((self.path, wanted, 206 if start else 200))
        if self.path.startswith("/flaky/") and self.server.cut_short:
            self.server.cut_short -= 1
            body = body[: len(body) // 2]  # then the connection closes (HTTP/1.0)
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FileHandler)
    httpd.files, httpd.log, httpd.cut_short = {}, [], 0
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{httpd.server_address[1]}", httpd=httpd)
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


PAYLOAD = bytes(range(256)) * 3000  # 768,000 bytes
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
HALF = len(PAYLOAD) // 2


# ---------------------------------------------------------------------------------------------------
# fetch / obtain / extract


def test_fetch_downloads_and_verifies(server, tmp_path):
    server.httpd.files["file.bin"] = PAYLOAD
    dest = tmp_path / "dl" / "file.bin"
    assert fetch(f"{server.url}/file.bin", dest, sha256=PAYLOAD_SHA256) == dest
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "dl" / "file.bin.part").exists()
    assert server.httpd.log == [("/file.bin", None, 200)]
    # already there and matching: no request at all
    fetch(f"{server.url}/file.bin", dest, md5=hashlib.md5(PAYLOAD).hexdigest())
    assert len(server.httpd.log) == 1


def test_fetch_resumes_from_part(server, tmp_path):
    server.httpd.files["file.bin"] = PAYLOAD
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD[:HALF])
    fetch(f"{server.url}/file.bin", dest, sha256=PAYLOAD_SHA256)
    assert dest.read_bytes() == PAYLOAD
    assert server.httpd.log == [("/file.bin", f"bytes={HALF}-", 206)]


def test_fetch_restarts_when_server_ignores_range(server, tmp_path):
    server.httpd.files["file.bin"] = PAYLOAD
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(b"junk" * 1000)
    fetch(f"{server.url}/norange/file.bin", dest)
    assert dest.read_bytes() == PAYLOAD  # the junk prefix was dropped, not appended to
    assert server.httpd.log == [("/norange/file.bin", "bytes=4000-", 200)]


def test_fetch_interrupted_keeps_part_and_resumes(server, tmp_path):
    server.httpd.files["file.bin"] = PAYLOAD
    server.httpd.cut_short = 1
    dest, part = tmp_path / "file.bin", tmp_path / "file.bin.part"
    with pytest.raises(UserError, match=r"could not download .*connection closed after"):
        fetch(f"{server.url}/flaky/file.bin", dest, sha256=PAYLOAD_SHA256)
    assert not dest.exists() and part.read_bytes() == PAYLOAD[:HALF]
    fetch(f"{server.url}/flaky/file.bin", dest, sha256=PAYLOAD_SHA256)
    assert dest.read_bytes() == PAYLOAD and not part.exists()
    assert server.httpd.log[-1] == ("/flaky/file.bin", f"bytes={HALF}-", 206)


def test_fetch_checksum_mismatch(server, tmp_path):
    server.httpd.files["file.bin"] = PAYLOAD
    dest = tmp_path / "file.bin"
    with pytest.raises(UserError) as error:
        fetch(f"{server.url}/file.bin", dest, sha256="0" * 64)
    assert f"expected {'0' * 64}, got {PAYLOAD_SHA256}" in str(error.value)
    assert not dest.exists() and not (tmp_path / "file.bin.part").exists()


def test_fetch_tries_mirrors_then_fails(server, tmp_path):
    server.httpd.files["file.bin"] = PAYLOAD
    dest = tmp_path / "file.bin"
    fetch(f"{server.url}/missing/file.bin", dest, mirrors=[f"{server.url}/file.bin"])
    assert dest.read_bytes() == PAYLOAD
    with pytest.raises(UserError, match=r"could not download .*/missing/other.bin: HTTP 404"):
        fetch(f"{server.url}/missing/other.bin", tmp_path / "other.bin", mirrors=[f"{server.url}/other.bin"])
    with pytest.raises(UserError, match="could not download http://127.0.0.1:1/x.bin"):
        fetch("http://127.0.0.1:1/x.bin", tmp_path / "x.bin")


def test_obtain(server, tmp_path):
    archive, folder = tmp_path / "local.tgz", tmp_path / "folder"
    archive.write_bytes(b"x")
    folder.mkdir()
    downloads = tmp_path / "downloads"
    assert obtain(str(archive), "http://unused.invalid/a.tgz", downloads) == archive
    assert obtain(str(folder), "http://unused.invalid/a.tgz", downloads) == folder
    with pytest.raises(UserError, match="no such file or folder"):
        obtain(str(tmp_path / "nowhere.tgz"), "http://unused.invalid/a.tgz", downloads)
    assert server.httpd.log == []
    server.httpd.files["a.tgz"] = PAYLOAD
    assert obtain(f"{server.url}/a.tgz", "http://unused.invalid/b.tgz", downloads) == downloads / "a.tgz"
    official = obtain(None, f"{server.url}/x/a.tgz", tmp_path / "d2", sha256=PAYLOAD_SHA256)
    assert official == tmp_path / "d2" / "a.tgz" and official.read_bytes() == PAYLOAD


def test_extract_once_and_safely(tmp_path):
    archive = make_tgz(tmp_path / "a.tgz", {"top/one.txt": "one\n", "top/sub/two.txt": "two\n"})
    into = tmp_path / "contents"
    assert extract(archive, into) == into
    assert (into / "top" / "sub" / "two.txt").read_text() == "two\n"
    (into / "top" / "one.txt").write_text("edited\n")
    extract(archive, into)
    assert (into / "top" / "one.txt").read_text() == "edited\n"  # same archive: not unpacked again
    make_tgz(archive, {"top/one.txt": "new one\n"})
    extract(archive, into)
    assert (into / "top" / "one.txt").read_text() == "new one\n"
    assert not (into / "top" / "sub").exists()  # a changed archive is unpacked afresh

    evil = make_tgz(tmp_path / "evil.tgz", {"../escaped.txt": "gotcha\n"})
    with pytest.raises(UserError, match="cannot unpack"):
        extract(evil, tmp_path / "evil")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "evil").exists()
    (tmp_path / "plain.tgz").write_text("not an archive")
    with pytest.raises(UserError, match="cannot unpack"):
        extract(tmp_path / "plain.tgz", tmp_path / "plain")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tgz", "contents", "evil.tgz", "plain.tgz"]


# ---------------------------------------------------------------------------------------------------
# keep_pair


@pytest.mark.parametrize(
    "source, target, kept",
    [
        ("a b", "c d e", True),  # ratio exactly 1.5
        ("a b", "c d e f", False),  # 2.0
        ("a b c d", "e", False),
        ("", "", False),
        ("a", "", False),
        ("   ", "a", False),
        (" ".join("a" * 5), "  b\tb  b b  b ", True),  # whitespace tokens, however spaced
        (" ".join("a" * 6), " ".join("b" * 6), False),  # over max_tokens 5
    ],
)
def test_keep_pair(source, target, kept):
    assert keep_pair(source, target, 1, 5, 1.5) is kept


def test_keep_pair_min_tokens():
    assert not keep_pair("a b", "c d e", 3, 10, 9.0)
    assert keep_pair("a b c", "c d e", 3, 10, 9.0)


# ---------------------------------------------------------------------------------------------------
# IWSLT'14 de-en

IWSLT_TESTS = {  # set: (number of segments, whether its <seg> lines are indented)
    "IWSLT14.TED.dev2010": (2, True),
    "IWSLT14.TEDX.dev2012": (3, False),
    "IWSLT14.TED.tst2010": (4, True),
    "IWSLT14.TED.tst2011": (5, False),
    "IWSLT14.TED.tst2012": (6, True),
}


def iwslt_train() -> Tuple[List[Pair], List[Pair]]:
    """The raw train.tags lines (de, en), and the pairs that must survive, in order, before lowercasing."""
    raw: List[Pair] = [
        ("<url>http://www.ted.com/talks/eins.html</url>", "<url>http://www.ted.com/talks/eins.html</url>"),
        ("<keywords>talks, Wissenschaft</keywords>", "<keywords>talks, science</keywords>"),
        ("<talkid>1</talkid>", "<talkid>1</talkid>"),
        ("<title>Der Erste Titel</title>", "<title>The First Title</title>"),
        ("<description>Ein TED Vortrag</description>", "<description>A TED Talk</description>"),
    ]
    kept = [("Der Erste Titel", "The First Title"), ("Ein TED Vortrag", "A TED Talk")]
    dropped = {
        3: ("", ""),
        6: ("Ja", ""),
        9: ("Ja", "Yes , of course , it is ."),  # ratio 8
        12: (" ".join(["Wort"] * 176), " ".join(["Word"] * 176)),  # 176 > 175 tokens
        40: ("<url>http://www.ted.com/talks/zwei.html</url>", "<url>http://www.ted.com/talks/two.html</url>"),
        41: ("<talkid>2</talkid>", "<talkid>2</talkid>"),
    }
    for i in range(1, 71):
        if i in dropped:
            raw.append(dropped[i])
        pair = (f"Satz Nummer {i} Über Daten", f"Sentence Number {i} About Data")
        if i == 15:
            pair = ("  Satz   mit\tLeerzeichen ", " Sentence  with spaces")
            kept.append(("Satz mit Leerzeichen", "Sentence with spaces"))
        elif i == 18:
            pair = (" ".join(["Wort"] * 175), " ".join(["Word"] * 175))  # exactly the maximum: kept
            kept.append(pair)
        else:
            kept.append(pair)
        raw.append(pair)
    return raw, kept


def iwslt_xml(name: str, lang: str, count: int, indented: bool) -> Tuple[str, List[str]]:
    """An IWSLT XML file with `count` segments over two talks, and the segment texts expected."""
    tag = "srcset" if lang == "de" else "refset"
    indent = "    " if indented else ""
    word = {"de": "Satz", "en": "Sentence"}[lang]
    expected = [f"{name.split('.')[-1].upper()} {word} {k}" for k in range(1, count + 1)]
    if name.endswith("tst2011"):  # a pair the length filter would drop: the test set keeps it
        expected[1] = {"de": "Ja", "en": "Yes , of course , it is ."}[lang]
    if name.endswith("tst2012") and lang == "en":
        expected[0] = "It’s   Here"
    lines_ = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<mteval>",
        f'<{tag} setid="{name}" srclang="german">',
    ]
    for k, text in enumerate(expected, 1):
        if k in (1, count // 2 + 1):
            if k > 1:
                lines_.append("</doc>")
            lines_ += [
                f'<doc docid="{k}" genre="lectures">',
                "<url>http://www.ted.com/talks/x.html</url>",
                "<description>TED Talk Subtitles and Transcript</description>",
                "<keywords>talks</keywords>",
                f"<talkid>{k}</talkid>",
                "<title>Ein Titel</title>",
            ]
        lines_.append(f'{indent}<seg id="{k}"> {text} </seg>')
    lines_ += ["</doc>", f"</{tag}>", "</mteval>"]
    cleaned = [" ".join(t.replace("’", "'").split()) for t in expected]
    return lines(lines_), cleaned


def iwslt_archive(path: Path, skip: str = "") -> Tuple[Path, List[Pair], List[Pair]]:
    """de-en.tgz in the official layout; returns it, the expected training pairs and test pairs."""
    raw, kept = iwslt_train()
    members = {
        "de-en/train.tags.de-en.de": lines([de for de, _ in raw]),
        "de-en/train.tags.de-en.en": lines([en for _, en in raw]),
        "de-en/README": "ignored\n",
    }
    test: List[Pair] = []
    for name, (count, indented) in IWSLT_TESTS.items():
        sides = {}
        for lang in ("de", "en"):
            members[f"de-en/{name}.de-en.{lang}.xml"], sides[lang] = iwslt_xml(name, lang, count, indented)
        test += list(zip(sides["de"], sides["en"], strict=True))
    members.pop(skip, None)
    return make_tgz(path, members), kept, test


@pytest.mark.parametrize("lowercase", [True, False])
def test_iwslt14_from_archive(tmp_path, lowercase):
    archive, kept, test = iwslt_archive(tmp_path / "de-en.tgz")
    recipe = make_recipe(tmp_path, "iwslt14", ("de", "en"), 23, 175, lowercase)
    out = tmp_path / "raw"
    out.mkdir()
    iwslt14.write_raw(recipe, str(archive), tmp_path / "downloads", out)

    assert sorted(p.name for p in out.iterdir()) == [
        f"{s}.{lang}" for s in ("test", "train", "valid") for lang in ("de", "en")
    ]
    expected = lower(kept) if lowercase else kept
    train, valid = every_nth(expected, 23)
    assert len(expected) == 72 and len(valid) == 3  # 70 sentences + title + description
    assert read_split(out, "valid", ("de", "en")) == valid  # kept pairs 23, 46, 69
    assert read_split(out, "train", ("de", "en")) == train
    written = read_split(out, "train", ("de", "en")) + read_split(out, "valid", ("de", "en"))
    assert not any("<" in s or "<" in t or not s or not t for s, t in written)  # no metadata, no empties
    title = ("Der Erste Titel", "The First Title")
    assert (lower([title])[0] if lowercase else title) in written  # the tags went, their text stayed

    got_test = read_split(out, "test", ("de", "en"))
    assert got_test == (lower(test) if lowercase else test)
    assert len(got_test) == 20
    assert got_test[0][0].lower() == "dev2010 satz 1" and got_test[-1][0].lower() == "tst2012 satz 6"
    assert ("ja", "yes , of course , it is .") in lower(got_test)  # not length-cleaned
    assert got_test[14][1] == ("it's here" if lowercase else "It's Here")  # ’ -> ', spaces squeezed


def test_iwslt14_from_folders_and_download(tmp_path, server, monkeypatch):
    archive, _, _ = iwslt_archive(tmp_path / "de-en.tgz")
    recipe = make_recipe(tmp_path, "iwslt14", ("de", "en"), 23, 175, True)

    def build(source: str | None, name: str) -> Dict[str, str]:
        out = tmp_path / name
        out.mkdir()
        iwslt14.write_raw(recipe, source, tmp_path / "downloads", out)
        return {p.name: p.read_text() for p in out.iterdir()}

    reference = build(str(archive), "from-archive")
    unpacked = unpack(archive, tmp_path / "unpacked")
    assert build(str(unpacked), "from-parent") == reference
    assert build(str(unpacked / "de-en"), "from-de-en") == reference

    server.httpd.files["de-en.tgz"] = archive.read_bytes()
    monkeypatch.setattr(iwslt14, "URL", f"{server.url}/fairseq/de-en.tgz")
    assert build(None, "from-download") == reference
    assert (tmp_path / "downloads" / "de-en.tgz").read_bytes() == archive.read_bytes()


def test_iwslt14_user_errors(tmp_path):
    archive, _, _ = iwslt_archive(tmp_path / "de-en.tgz", skip="de-en/IWSLT14.TED.tst2012.de-en.de.xml")
    recipe = make_recipe(tmp_path, "iwslt14", ("de", "en"), 23, 175, True)
    out = tmp_path / "raw"
    out.mkdir()
    with pytest.raises(UserError, match=r"no IWSLT14\.TED\.tst2012\.de-en\.de\.xml there"):
        iwslt14.write_raw(recipe, str(archive), tmp_path / "downloads", out)
    with pytest.raises(UserError, match="no such file or folder"):
        iwslt14.write_raw(recipe, str(tmp_path / "nowhere.tgz"), tmp_path / "downloads", out)
    with pytest.raises(UserError, match="not fr-en"):
        iwslt14.write_raw(make_recipe(tmp_path, "iwslt14", ("fr", "en"), 23, 175, True), None, tmp_path, out)


# ---------------------------------------------------------------------------------------------------
# WMT'14 en-de

WMT_CORPORA = {  # archive: (member prefix, number of lines)
    "training-parallel-europarl-v7.tgz": ("training/europarl-v7.de-en", 120),
    "training-parallel-commoncrawl.tgz": ("commoncrawl.de-en", 90),
    "training-parallel-nc-v12.tgz": ("training/news-commentary-v12.de-en", 50),
}
WMT_BAD = {  # line number over all corpora: a pair cleaning must drop
    5: ("", ""),
    50: ("Yes", "Ja , natürlich , so ist es ."),
    100: (" ".join(["word"] * 251), " ".join(["Wort"] * 251)),  # the first valid line: dropped
    150: ("Hello there", ""),
    230: ("a b c d", "e f"),
}


def wmt_test_sgm(side: str, lang: str, texts: List[str]) -> str:
    tag = "srcset" if side == "src" else "refset"
    out = [f'<{tag} setid="newstest2014" srclang="any" trglang="{lang}">']
    for k, text in enumerate(texts, 1):
        if k in (1, 5):
            out += ["</doc>"] if k > 1 else []
            out += [f'<doc sysid="{side}" docid="doc{k}" genreid="news" origlang="en">', "<p>"]
        out.append(f'<seg id="{k}">{text}</seg>')
    return lines(out + ["</p>", "</doc>", f"</{tag}>"])


def wmt_archives(folder: Path) -> Tuple[List[Pair], List[Pair]]:
    """The four archives in `folder`; returns all training lines (en, de) in order and the test pairs."""
    folder.mkdir(exist_ok=True)
    everything: List[Pair] = []
    for archive, (prefix, count) in WMT_CORPORA.items():
        pairs = []
        for _ in range(count):
            n = len(everything) + len(pairs) + 1
            pairs.append(WMT_BAD.get(n, (f"Line {n} of {prefix}", f"Zeile {n} aus {prefix}")))
        if prefix == "commoncrawl.de-en":  # crawled text: a carriage return and U+2028 inside lines
            pairs[3] = ("Carriage\rReturn", "Wagen\u2028Rücklauf")
        members = {
            f"{prefix}.en": lines([en for en, _ in pairs]),
            f"{prefix}.de": lines([de for _, de in pairs]),
        }
        members[prefix.replace("de-en", "fr-en") + ".fr"] = "ignored\n"
        make_tgz(folder / archive, members)
        everything += pairs
    en = [f"Test Sentence {k}" for k in range(1, 9)]
    de = [f"Testsatz {k}" for k in range(1, 9)]
    en[2], de[2] = " ".join(["long"] * 300), "kurz"  # the test set is never cleaned
    make_tgz(
        folder / "test-full.tgz",
        {
            "test-full/newstest2014-deen-src.en.sgm": wmt_test_sgm("src", "en", en),
            "test-full/newstest2014-deen-ref.de.sgm": wmt_test_sgm("ref", "de", de),
            "test-full/newstest2014-deen-src.de.sgm": wmt_test_sgm("src", "de", ["falsch"] * 8),
        },
    )
    return everything, list(zip(en, de, strict=True))


def expected_wmt(everything: List[Pair]) -> Tuple[List[Pair], List[Pair]]:
    squeezed = [(" ".join(en.split()), " ".join(de.split())) for en, de in everything]
    good = {n for n in range(1, len(everything) + 1) if n not in WMT_BAD}
    train = [p for n, p in enumerate(squeezed, 1) if n % 100 and n in good]
    valid = [p for n, p in enumerate(squeezed, 1) if n % 100 == 0 and n in good]
    return train, valid


def test_wmt14_from_archives(tmp_path):
    everything, test = wmt_archives(tmp_path / "orig")
    recipe = make_recipe(tmp_path, "wmt14", ("en", "de"), 100, 250, False)
    out = tmp_path / "raw"
    out.mkdir()
    wmt14.write_raw(recipe, str(tmp_path / "orig"), tmp_path / "downloads", out)

    train, valid = expected_wmt(everything)
    assert len(everything) == 260
    assert (
        read_split(out, "valid", ("en", "de"))
        == valid
        == [("Line 200 of commoncrawl.de-en", "Zeile 200 aus commoncrawl.de-en")]
    )
    assert read_split(out, "train", ("en", "de")) == train
    assert len(train) == 260 - 2 - 4  # lines 100 and 200 went to valid, 4 more were cleaned out
    assert ("Carriage Return", "Wagen Rücklauf") in train  # one line each, not split in two
    assert read_split(out, "test", ("en", "de")) == test  # in order, the 300-token line kept


def test_wmt14_from_unpacked_folder_and_download(tmp_path, server, monkeypatch):
    everything, test = wmt_archives(tmp_path / "archives")
    recipe = make_recipe(tmp_path, "wmt14", ("en", "de"), 100, 250, True)

    def build(source: str | None, name: str, downloads: str = "downloads") -> Dict[str, str]:
        out = tmp_path / name
        out.mkdir()
        wmt14.write_raw(recipe, source, tmp_path / downloads, out)
        return {p.name: p.read_text() for p in out.iterdir()}

    orig = tmp_path / "orig"
    for archive in (tmp_path / "archives").iterdir():
        unpack(archive, orig)
    from_folder = build(str(orig), "from-folder")
    train, valid = expected_wmt(everything)
    assert from_folder["train.en"] == lines([en for en, _ in lower(train)])
    assert from_folder["valid.de"] == lines([de for _, de in lower(valid)])
    assert from_folder["test.de"] == lines([de for _, de in lower(test)])

    for archive in (tmp_path / "archives").iterdir():
        server.httpd.files[archive.name] = archive.read_bytes()
    digest = {a.name: hashlib.sha256(a.read_bytes()).hexdigest() for a in (tmp_path / "archives").iterdir()}
    corpora = tuple(
        (wmt14.Archive(f"{server.url}/wmt13/{name}", sha256=digest[name]), prefix)
        for name, (prefix, _) in WMT_CORPORA.items()
    )
    test_md5 = hashlib.md5((tmp_path / "archives" / "test-full.tgz").read_bytes()).hexdigest()
    registry = SimpleNamespace(
        data=[f"{server.url}/wmt14/test-full.tgz"], md5=[test_md5], langpairs=wmt14.TEST_SET.langpairs
    )
    monkeypatch.setattr(wmt14, "TRAIN_CORPORA", corpora)
    monkeypatch.setattr(wmt14, "TEST_SET", registry)
    assert build(None, "from-download") == from_folder
    assert sorted(p for p, _, _ in server.httpd.log) == sorted(
        [f"/wmt13/{name}" for name in WMT_CORPORA] + ["/wmt14/test-full.tgz"]
    )
    assert build(f"{server.url}/mirror/", "from-mirror", downloads="mirror-downloads") == from_folder
    assert [p for p, _, _ in server.httpd.log[4:]] == [f"/mirror/{name}" for name in WMT_CORPORA] + [
        "/mirror/test-full.tgz"
    ]
    # a download that does not match its published checksum is refused (and not kept)
    monkeypatch.setattr(wmt14, "TRAIN_CORPORA", ((corpora[0][0]._replace(sha256="1" * 64), corpora[0][1]),))
    with pytest.raises(UserError, match="sha256 mismatch: expected 1111"):
        build(None, "bad-checksum")
    assert not (tmp_path / "downloads" / "training-parallel-europarl-v7.tgz").exists()


def test_wmt14_user_errors(tmp_path):
    wmt_archives(tmp_path / "orig")
    (tmp_path / "orig" / "training-parallel-commoncrawl.tgz").unlink()
    recipe = make_recipe(tmp_path, "wmt14", ("en", "de"), 100, 250, False)
    out = tmp_path / "raw"
    out.mkdir()
    with pytest.raises(
        UserError, match="holds neither commoncrawl.de-en.en nor training-parallel-commoncrawl.tgz"
    ):
        wmt14.write_raw(recipe, str(tmp_path / "orig"), tmp_path / "downloads", out)
    with pytest.raises(UserError, match="not a folder"):
        wmt14.write_raw(recipe, str(tmp_path / "orig" / "test-full.tgz"), tmp_path / "downloads", out)
    make_tgz(tmp_path / "orig" / "training-parallel-commoncrawl.tgz", {"commoncrawl.fr-en.en": "x\n"})
    with pytest.raises(UserError, match="the archive holds no commoncrawl.de-en.en"):
        wmt14.write_raw(recipe, str(tmp_path / "orig"), tmp_path / "downloads", out)
    assert list(out.iterdir()) == []


def test_every_python_the_project_admits_has_tarfiles_extraction_filters():
    """`extract` unpacks with filter="data" (Python 3.10.12, 3.11.4, 3.12 and newer)."""
    import tomllib
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    admitted = SpecifierSet(project["project"]["requires-python"])

    def has_filter(version: str) -> bool:
        v = Version(version)
        return v >= Version("3.12") or Version("3.11.4") <= v or Version("3.10.12") <= v < Version("3.11")

    for version in ["3.10.0", "3.10.11", "3.10.12", "3.11.0", "3.11.3", "3.11.4", "3.12.0", "3.13.1"]:
        assert (version in admitted) == has_filter(version), version
    assert hasattr(tarfile, "data_filter")
