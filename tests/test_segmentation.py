"""Lines cut into sentences and pieces, and joined back (evo_mt.runtime.text.segmentation, markdown)."""

from conftest import StandInTranslator
from hypothesis import given
from hypothesis import strategies as st

from evo_mt.runtime.base.vocabulary import WORD_START
from evo_mt.runtime.text.inline import Marked, translate_marked
from evo_mt.runtime.text.markdown import translate_markdown
from evo_mt.runtime.text.segmentation import cut, layout, sentences


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
        ("", ""),  # else, to CommonMark, the table's lines continue the item's paragraph
        ("| a cell | another |", "| A CELL | ANOTHER |"),
        ("|---|---|", "|---|---|"),
        ("", ""),
        ("[label]: http://example.com/ref", "[label]: http://example.com/ref"),
        ("---", "---"),
    ]
    document = [line for line, _ in pairs]
    translated = translate_markdown(document, upper_case)
    assert translated == [expected for _, expected in pairs]


def stand_in(rewrite, source_of=None):
    """Units of prose translated by a stand-in model rewriting each sentence's words (and
    aligning them by `source_of`)."""
    return lambda units: translate_marked(StandInTranslator(rewrite, source_of), units)


upper_case = stand_in(lambda words: [word.upper() for word in words])
# A stand-in model that reorders: each sentence's words reversed, upper-cased, and aligned.
_sentences_reversed = stand_in(
    lambda words: [word.upper() for word in words[::-1]], lambda words: list(range(len(words)))[::-1]
)


def test_a_wrapped_paragraph_is_translated_as_the_same_paragraph_on_one_line_its_markup_kept():
    wrapped = [
        "> first words of a **bold move** that wraps",
        "> over lines . then a [linked phrase](https://example.com/a_b) ends",
        "> it here .",
    ]
    one_line = ["> " + " ".join(line[2:] for line in wrapped)]
    translated = translate_markdown(wrapped, _sentences_reversed)
    assert translated == translate_markdown(one_line, _sentences_reversed)
    assert len(translated) == 1 and translated[0].startswith("> ")
    # The prose is translated as the text without its markup, sentence for sentence ...
    plain = "first words of a bold move that wraps over lines . then a linked phrase ends it here ."
    without_markup = translated[0][2:].replace("**", "").replace("[", "")
    without_markup = without_markup.replace("](https://example.com/a_b)", "")
    assert without_markup == _sentences_reversed([Marked(plain)])[0].text
    # ... and each mark wraps the words aligned to those it marked.
    assert "**MOVE BOLD**" in translated[0] and "[PHRASE LINKED](https://example.com/a_b)" in translated[0]


def test_markdown_marks_go_where_a_span_stands_in_proportion_without_alignments():
    model = upper_case  # a stand-in that gives no alignments
    assert translate_markdown(["one *two* three four"], model) == ["ONE *TWO* THREE FOUR"]
    # Marks nested around different words stay nested around the words at their places.
    assert translate_markdown(["one **a *b* c** d"], model) == ["ONE **A *B* C** D"]


def test_markdown_keeps_hard_breaks_headings_and_code_byte_for_byte():
    document = ["# Title #", "", "a line  ", "after a break\\", "the end", "", "    code", "", "Setext", "=="]
    translated = translate_markdown(document, upper_case)
    assert translated == [
        "# TITLE #", "", "A LINE  ", "AFTER A BREAK\\", "THE END", "", "    code", "", "SETEXT", "=="
    ]
