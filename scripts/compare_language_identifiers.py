"""Language identifiers compared for `source: "auto"` and `/detect`, with English and German served.

Install the identifiers into a virtual environment of their own (not the project's), then run this
from the repository root with that interpreter and the repository on the path:

    python3 -m venv /tmp/langid-venv
    /tmp/langid-venv/bin/pip install numpy py3langid lingua-language-detector langdetect pycld2 \
        fasttext-langdetect
    PYTHONPATH=$PWD /tmp/langid-venv/bin/python scripts/compare_language_identifiers.py \
        --gettext GETTEXT_DIR --toy TOY_RAW_DIR

Each DIR holds test.en and test.de, one text a line (a toy run's raw/ folder is one). Identifiers that
are not installed are named under the table and skipped.

It prints one Markdown table, a row for each identifier and one for evo-mt's own rule
(evo_mt.runtime.text.detection: py3langid with its thresholds), then notes on the data. The columns:
- the share of texts whose language is found, for gettext messages, toy sentences and short texts (the
  first 1 to 4 words of each gettext line, 1 for the first line, 2 for the second, ... in turn), each
  language apart, as "A / S": A chosen among all the identifier's languages, S chosen between English
  and German only (py3langid `set_languages`, lingua `from_iso_codes_639_1`; langdetect and pycld2 cannot be
  restricted, so the likelier of en and de among those they report is taken, none when neither is);
  the rule's row reads "right · refused · wrong" instead;
- texts per second on the gettext sentences, one thread, the best of 3 passes, "A / S" as above;
- the size on disk of the package's own files and with its dependencies (apparent bytes of the files
  under the top-level names its RECORD lists, dist-info included);
- whether it opens a connection while it runs: Python's sockets are blocked for the whole run and each
  attempt is counted, so an identifier that downloads a model on first use is found out and left out
  of the measurement (fasttext-langdetect fetches fastText's lid.176 model that way);
- the installed version and the Development Status its metadata declares.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import os
import re
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

SERVED = ("en", "de")
REPEATS = 3
SHORT_WORDS = 4
PLACEHOLDER = re.compile(r"%[-+ #0-9.]*[a-zA-Z]|\{[^}]*\}|<[^>]*>|\$\{?\w+")

Guess = Callable[[str], str | None]  # a language code, or None when the identifier gives none


@dataclass
class Identifier:
    name: str  # the row's label
    distribution: str  # its name on PyPI, for the version and the size
    overall: Guess  # among all its languages
    served: Guess  # between the served ones
    restricted: bool = True  # served is a detector of its own, not the same call as overall


@dataclass
class Excluded:
    name: str
    distribution: str
    why: str


class ConnectionBlocked(OSError):
    """Raised in place of a connection: nothing measured here may fetch anything."""


class SocketGuard:
    """Blocks Python's sockets and remembers which hosts were asked for."""

    def __init__(self) -> None:
        self.attempts: List[str] = []

    def install(self) -> None:
        guard = self

        def refuse_lookup(host: object, *args: object, **kwargs: object) -> None:
            guard.attempts.append(str(host))
            raise ConnectionBlocked(f"lookup of {host} blocked")

        def refuse_connect(sock: socket.socket, address: object) -> None:
            guard.attempts.append(str(address))
            raise ConnectionBlocked(f"connection to {address} blocked")

        socket.getaddrinfo = refuse_lookup  # type: ignore[assignment]
        socket.socket.connect = refuse_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = refuse_connect  # type: ignore[method-assign]


def _py3langid() -> Identifier:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    everything = LanguageIdentifier.from_model_file(MODEL_FILE)
    served = LanguageIdentifier.from_model_file(MODEL_FILE)
    served.set_languages(list(SERVED))
    return Identifier(
        "py3langid",
        "py3langid",
        lambda text: everything.classify(text)[0],
        lambda text: served.classify(text)[0],
    )


def _lingua(low_accuracy: bool) -> Identifier:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    def build(builder: LanguageDetectorBuilder) -> Guess:
        if low_accuracy:
            builder = builder.with_low_accuracy_mode()
        detector = builder.build()

        def guess(text: str) -> str | None:
            language = detector.detect_language_of(text)
            return None if language is None else language.iso_code_639_1.name.lower()

        return guess

    codes = [getattr(IsoCode639_1, code.upper()) for code in SERVED]
    name = "lingua (low accuracy mode)" if low_accuracy else "lingua"
    return Identifier(
        name,
        "lingua-language-detector",
        build(LanguageDetectorBuilder.from_all_languages()),
        build(LanguageDetectorBuilder.from_iso_codes_639_1(*codes)),
    )


Ranking = Callable[[str], List[Tuple[str, float]]]  # languages and scores, likeliest first


def _unrestricted(name: str, distribution: str, ranking: Ranking) -> Identifier:
    """An identifier that cannot be restricted: the likelier of en and de among those it ranks."""
    # Both columns come from one call on each text (the table asks for overall, then served).
    ranked = functools.lru_cache(maxsize=1)(ranking)

    def overall(text: str) -> str | None:
        found = ranked(text)
        return found[0][0] if found else None

    def served(text: str) -> str | None:
        found = [(score, code) for code, score in ranked(text) if code in SERVED]
        return max(found)[1] if found else None

    return Identifier(name, distribution, overall, served, restricted=False)


def _langdetect() -> Identifier:
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0  # it samples n-grams at random: the same answers on every run

    def ranking(text: str) -> List[Tuple[str, float]]:
        try:
            return [(found.lang, found.prob) for found in detect_langs(text)]
        except LangDetectException:  # a text without letters it knows
            return []

    return _unrestricted("langdetect", "langdetect", ranking)


def _pycld2() -> Identifier:
    import pycld2

    def ranking(text: str) -> List[Tuple[str, float]]:
        try:
            _, _, details = pycld2.detect(text, bestEffort=True)
        except pycld2.error:
            return []
        return [(code, float(percent)) for _, code, percent, _ in details if code != "un"]

    return _unrestricted("pycld2 (best effort)", "pycld2", ranking)


def _fasttext_langdetect() -> Identifier:
    from ftlangdetect import detect

    def overall(text: str) -> str | None:
        return str(detect(text)["lang"])

    return Identifier("fasttext-langdetect", "fasttext-langdetect", overall, overall)


BUILDERS: List[Tuple[str, Callable[[], Identifier]]] = [
    ("py3langid", _py3langid),
    ("lingua", lambda: _lingua(low_accuracy=False)),
    ("lingua (low accuracy mode)", lambda: _lingua(low_accuracy=True)),
    ("langdetect", _langdetect),
    ("pycld2", _pycld2),
    ("fasttext-langdetect", _fasttext_langdetect),
]


def load_identifiers(guard: SocketGuard) -> Tuple[List[Identifier], List[Excluded], List[str]]:
    """The identifiers that are installed and answer offline, those that fetch something, those missing."""
    found: List[Identifier] = []
    excluded: List[Excluded] = []
    missing: List[str] = []
    for name, build in BUILDERS:
        try:
            identifier = build()
        except ImportError as error:
            missing.append(f"{name} ({error})")
            continue
        before = len(guard.attempts)
        failure: Exception | None = None
        # Its own cache folder, empty: a model an earlier run downloaded would hide the download.
        with tempfile.TemporaryDirectory(prefix="ftlang-") as cache:
            os.environ["FTLANG_CACHE"] = cache
            try:
                identifier.overall("This is an English sentence.")
            except Exception as error:  # whatever a library makes of the blocked connection
                failure = error
        if len(guard.attempts) > before:
            why = f"downloads at first use (asked for {guard.attempts[before]}): excluded"
            excluded.append(Excluded(identifier.name, identifier.distribution, why))
        elif failure is not None:
            why = f"fails offline ({type(failure).__name__}: {failure}): excluded"
            excluded.append(Excluded(identifier.name, identifier.distribution, why))
        else:
            found.append(identifier)
    return found, excluded, missing


def read_texts(folder: Path) -> Dict[str, List[str]]:
    """test.en and test.de of `folder`: the pairs of lines, those with an empty side left out."""
    sides = []
    for language in SERVED:
        path = folder / f"test.{language}"
        if not path.is_file():
            sys.exit(f"compare_language_identifiers: error: {path} does not exist")
        sides.append([line.strip() for line in path.read_text(encoding="utf-8").splitlines()])
    if len({len(lines) for lines in sides}) > 1:
        sys.exit(f"compare_language_identifiers: error: the test files in {folder} differ in length")
    pairs = [pair for pair in zip(*sides, strict=True) if all(pair)]
    return {language: [pair[index] for pair in pairs] for index, language in enumerate(SERVED)}


def short_texts(texts: Dict[str, List[str]]) -> Dict[str, List[str]]:
    """The first 1, 2, 3, 4, 1, ... words of each line, in turn."""
    return {
        language: [" ".join(line.split()[: 1 + index % SHORT_WORDS]) for index, line in enumerate(lines)]
        for language, lines in texts.items()
    }


def share(count: int, total: int) -> str:
    return f"{100.0 * count / total:.1f}" if total else "-"


def accuracies(identifier: Identifier, texts: Sequence[str], language: str) -> str:
    """The shares found, among all its languages / between the served ones."""
    overall = served = 0
    for text in texts:
        overall += identifier.overall(text) == language
        served += identifier.served(text) == language
    return f"{share(overall, len(texts))} / {share(served, len(texts))}"


def texts_per_second(guess: Guess, texts: Sequence[str]) -> str:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for text in texts:
            guess(text)
        best = min(best, time.perf_counter() - start)
    return f"{len(texts) / best:,.0f}"


def rule_outcomes(decide: Guess, texts: Sequence[str], language: str) -> str:
    """evo-mt's rule on `texts`: right · refused · wrong, as shares."""
    decided = [decide(text) for text in texts]
    right = sum(found == language for found in decided)
    refused = sum(found is None for found in decided)
    wrong = len(texts) - right - refused
    return f"{share(right, len(texts))} · {share(refused, len(texts))} · {share(wrong, len(texts))}"


def _top_level(distribution: importlib.metadata.Distribution) -> List[Path]:
    """The folders and files directly in site-packages that `distribution` installed."""
    tops = set()
    for file in distribution.files or []:
        if file.parts and file.parts[0] != "..":
            tops.add(Path(str(distribution.locate_file(file.parts[0]))))
    return sorted(tops)


def _bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())


def _requirements(distribution: importlib.metadata.Distribution) -> List[str]:
    """The distributions it needs at run time (extras left out)."""
    names = []
    for requirement in distribution.requires or []:
        if re.search(r"extra\s*==", requirement):
            continue
        match = re.match(r"[A-Za-z0-9._-]+", requirement)
        if match:
            names.append(match.group(0))
    return names


def sizes(name: str) -> str:
    """The size on disk of `name`'s own files, and with what it needs, in MB."""
    own = _bytes_of(importlib.metadata.distribution(name))
    seen, pending, total = {name.lower()}, [name], 0
    while pending:
        try:
            distribution = importlib.metadata.distribution(pending.pop())
        except importlib.metadata.PackageNotFoundError:
            continue
        total += _bytes_of(distribution)
        for required in _requirements(distribution):
            if required.lower() not in seen:
                seen.add(required.lower())
                pending.append(required)
    return f"{own / 1e6:.1f} / {total / 1e6:.1f}"


def _bytes_of(distribution: importlib.metadata.Distribution) -> int:
    return sum(_bytes(path) for path in _top_level(distribution))


def release(name: str) -> str:
    metadata = importlib.metadata.metadata(name)
    status = [c.split("::")[-1].strip() for c in metadata.get_all("Classifier") or [] if "Status" in c]
    return f"{metadata['Version']} ({status[0]})" if status else metadata["Version"]


def load_rule() -> Tuple[Guess | None, str]:
    """evo-mt's detection between en and de (None for a refusal), or why it cannot be measured."""
    try:
        from evo_mt.runtime.text.detection import DetectionError, LanguageDetector
    except ImportError as error:
        return None, f"evo_mt.runtime.text.detection cannot be imported ({error}): its rule is not measured"
    detector = LanguageDetector(list(SERVED))

    def decide(text: str) -> str | None:
        try:
            return detector.detect(text).language
        except DetectionError:
            return None

    return decide, ""


Sets = Dict[str, Dict[str, List[str]]]  # kind of text -> language -> texts


def each(sets: Sets) -> List[Tuple[str, List[str]]]:
    """(language, texts) for each column, in the table's order."""
    return [(language, texts) for kind in sets.values() for language, texts in kind.items()]


def identifier_row(identifier: Identifier, sets: Sets, timed: Sequence[str]) -> List[str]:
    cells = [accuracies(identifier, texts, language) for language, texts in each(sets)]
    served = texts_per_second(identifier.served, timed) if identifier.restricted else "same call"
    speed = f"{texts_per_second(identifier.overall, timed)} / {served}"
    version = release(identifier.distribution)
    return [identifier.name, *cells, speed, sizes(identifier.distribution), "no", version]


def rule_row(decide: Guess, sets: Sets, timed: Sequence[str]) -> List[str]:
    cells = [rule_outcomes(decide, texts, language) for language, texts in each(sets)]
    speed = texts_per_second(decide, timed)
    return ["evo-mt rule (py3langid, en+de)", *cells, speed, sizes("py3langid"), "no", release("py3langid")]


def notes(sets: Sets, timed: Sequence[str]) -> List[str]:
    """What the figures count, and what in the data bounds them."""
    lines = [
        "Cells: % found among all languages / between en and de; the rule: % right · refused · wrong.",
        f"texts/s: the {len(timed)} gettext texts, one thread, best of {REPEATS}; MB: 1e6 bytes.",
    ]
    for kind, texts in sets.items():
        lines.append(f"{kind}: " + ", ".join(f"{len(found)} {language}" for language, found in texts.items()))
    gettext = sets["gettext"]
    same = sum(en == de for en, de in zip(gettext["en"], gettext["de"], strict=True))
    marked = sum(bool(PLACEHOLDER.search(line)) for line in timed)
    lines.append(
        f"gettext: {same} of {len(gettext['en'])} lines are the same in en and de; {marked} of "
        f"{len(timed)} texts hold placeholders, tags or variables."
    )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gettext", type=Path, required=True, help="folder with test.en and test.de")
    parser.add_argument("--toy", type=Path, required=True, help="folder with test.en and test.de")
    args = parser.parse_args(argv)
    # One thread each, however many cores: numpy's BLAS, lingua's rayon pool.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[variable] = "1"

    gettext = read_texts(args.gettext)
    sets = {"gettext": gettext, "toy": read_texts(args.toy), "short": short_texts(gettext)}
    timed = gettext["en"] + gettext["de"]
    guard = SocketGuard()
    guard.install()
    identifiers, excluded, missing = load_identifiers(guard)
    decide, rule_missing = load_rule()

    columns = [f"{kind} {language}" for kind in sets for language in SERVED]
    header = ["identifier", *columns, "texts/s", "MB (own / with deps)", "downloads", "version"]
    rows = [identifier_row(identifier, sets, timed) for identifier in identifiers]
    if decide is not None:
        rows.append(rule_row(decide, sets, timed))
    for skipped in excluded:
        size, version = sizes(skipped.distribution), release(skipped.distribution)
        rows.append([skipped.name, *["-"] * len(columns), "-", size, skipped.why, version])

    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print("\n".join(notes(sets, timed)))
    if rule_missing:
        print(rule_missing)
    for name in missing:
        print(f"not installed: {name}")
    print(f"connections asked for while measuring (all blocked): {len(guard.attempts)}")


if __name__ == "__main__":
    main()
