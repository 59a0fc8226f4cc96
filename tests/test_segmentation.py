"""Lines cut into sentences and pieces, and joined back (evo_mt.runtime.text.segmentation, markdown)."""

from hypothesis import given
from hypothesis import strategies as st

from evo_mt.runtime.text.markdown import runs, translate_markdown, verbatim_lines
from evo_mt.runtime.text.segmentation import WORD_START, cut, layout, sentences


def words(text):
    """A stand-in for sentencepiece: one piece a word, marked as a word start."""
    return [WORD_START + word for word in text.split()]


def laid_out(line, limit=50, split=True, piece=None):
    return layout(line, language="en", split=split, encode=words, cutting=(limit, piece or limit))


def echo(found):
    """Each unit 'translated' to its own words: the joined line must equal the input's text."""
    return found.join([" ".join(piece[1:] for piece in unit) for unit in found.units])


def test_a_paragraph_is_its_sentences_with_their_whitespace():
    line = "  The file is saved.  Open it again? Yes! "
    assert sentences(line, "en") == [
        ("The file is saved.", "  "), ("Open it again?", " "), ("Yes!", " ")
    ]
    found = laid_out(line)
    assert found.lead == "  "
    assert len(found.units) == 3
    assert echo(found) == line


def test_tokenized_text_with_spaced_full_stops_is_cut_too():
    # The toy corpus writes " ." as its own token, lower case after it.
    line = "a lerideza ride korafos rifavo . yesterday the rimo nonuzela . today a redo bibazo ."
    assert [text for text, _ in sentences(line, "en")] == [
        "a lerideza ride korafos rifavo .", "yesterday the rimo nonuzela .", "today a redo bibazo ."
    ]


def test_no_split_keeps_the_line_one_sentence_and_its_whitespace():
    line = " One. Two. "
    found = laid_out(line, split=False)
    assert found.units == (tuple(words("One. Two.")),)
    assert (found.lead, found.glue) == (" ", (" ",))


def test_blank_lines_are_given_back_as_they_are():
    for line in ("", "   ", "\t"):
        found = laid_out(line)
        assert found.units == ()
        assert found.join([]) == line


def test_a_long_sentence_is_cut_after_clause_punctuation_else_between_words():
    pieces = words("one two three, four five six seven eight")
    assert cut(pieces, 5) == [pieces[:3], pieces[3:8]]  # after "three,"
    pieces = words("one two three four five six seven")
    assert cut(pieces, 3) == [pieces[:3], pieces[3:6], pieces[6:]]
    # Pieces inside one word: cut before the last word start, else at the limit.
    inside = ["\u2581un", "bro", "ken", "word", "\u2581next"]
    assert cut(inside, 3) == [inside[:3], inside[3:]]
    assert cut(inside[:4], 2) == [inside[:2], inside[2:4]]


def test_a_thousand_word_line_without_punctuation_is_translated_whole():
    line = " ".join(f"w{i}" for i in range(1000))
    found = laid_out(line, limit=100, piece=40)
    assert len(found.units) == 25 and found.cut_sentences == 1
    assert all(len(unit) <= 40 for unit in found.units)
    assert laid_out("one two three", limit=3, piece=1).units == (tuple(words("one two three")),)
    assert echo(found) == line


def test_mixed_scripts_are_cut_at_each_scripts_sentence_ends():
    found = sentences("Hello world. 你好。世界！ Привет, мир. Γειά σου!", "en")
    assert [text for text, _ in found] == ["Hello world.", "你好。", "世界！", "Привет, мир.", "Γειά σου!"]


line_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=120)


@given(line_text)
def test_every_line_keeps_its_text_and_a_non_empty_line_gives_units(line):
    found = laid_out(line, limit=7)
    assert all(0 < len(unit) <= 7 for unit in found.units) or not line.split()
    if line.split():
        assert found.units
    # Joined back from its own words, the line is the input with its whitespace runs kept
    # around sentences (inside a sentence the pieces are joined by one space).
    assert echo(found).split() == line.split()
    assert echo(found)[: len(found.lead)] == line[: len(line) - len(line.lstrip())]


def test_markdown_keeps_code_links_and_markers():
    # (a line, its translation when each run of prose is upper-cased)
    pairs = [
        ("# A title", "# A TITLE"),
        ("", ""),
        (
            "Text with `code`, a [link](http://example.com/a) and https://x.org/.",
            "TEXT WITH `code`, A [LINK](http://example.com/a) AND https://x.org/.",
        ),
        ("", ""),
        ("```", "```"),
        ("code stays", "code stays"),
        ("```", "```"),
        ("", ""),
        ("    indented code", "    indented code"),
        ("", ""),
        ("- an item", "- AN ITEM"),
        ("| a cell | another |", "| A CELL | ANOTHER |"),
        ("|---|---|", "|---|---|"),
        ("", ""),
        ("[label]: http://example.com/ref", "[label]: http://example.com/ref"),
        ("---", "---"),
    ]
    document = [line for line, _ in pairs]
    translated = translate_markdown(document, lambda texts: [text.upper() for text in texts])
    assert translated == [expected for _, expected in pairs]
    assert verbatim_lines(document)[4:7] == [True, True, True]
    assert ("](http://example.com/a)", False) in runs(document[2])
