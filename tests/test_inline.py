"""Marked prose translated with its marks placed (evo_mt.runtime.text.inline)."""

import pytest
from conftest import StandInTranslator
from hypothesis import given
from hypothesis import strategies as st

from evo_mt.runtime.text.inline import Marked, Span, enclosing, interleave, translate_marked
from evo_mt.runtime.text.pipeline import translate_lines

REVERSED = StandInTranslator(lambda words: [word.upper() for word in words[::-1]])
DOUBLED = StandInTranslator(lambda words: [w.upper() for word in words for w in (word, word + "x")])
# The same, aligning: each translated word with the source word it came from.
REVERSED_ALIGNED = StandInTranslator(REVERSED.rewrite, lambda words: list(range(len(words)))[::-1])
DOUBLED_ALIGNED = StandInTranslator(DOUBLED.rewrite, lambda words: [i // 2 for i in range(2 * len(words))])


@st.composite
def marked(draw):
    """A unit of words with properly nested spans (some empty), in document order: at each
    place in the text, spans open and close as tags would."""
    words = draw(st.lists(st.sampled_from(["red", "car", "a", "goes", "home", "."]), min_size=1, max_size=8))
    text = " ".join(words)
    spans, stack = [], []
    for position in range(len(text) + 1):
        for opens in draw(st.lists(st.booleans(), max_size=3)):
            if opens:
                stack.append(len(spans))
                spans.append([position, None])
            elif stack:
                spans[stack.pop()][1] = position
    for number in stack:
        spans[number][1] = len(text)
    return Marked(text, tuple(Span(start, end, n) for n, (start, end) in enumerate(spans)))


def nested_as_given(source, found):
    for later, there in enumerate(found.spans):
        inside = enclosing(source.spans, later)
        for earlier, placed in enumerate(found.spans[:later]):
            if earlier in inside:
                assert placed.start <= there.start <= there.end <= placed.end
            else:
                assert there.start >= placed.end


@given(
    st.lists(marked(), min_size=1, max_size=4),
    st.sampled_from([REVERSED, DOUBLED, REVERSED_ALIGNED, DOUBLED_ALIGNED]),
)
def test_each_unit_is_translated_as_its_text_and_its_spans_stay_nested(units, translator):
    found = translate_marked(translator, units)
    plain = translate_lines(translator, [unit.text for unit in units])
    assert [unit.text for unit in found] == [line.texts[0] for line in plain]
    for source, translated in zip(units, found, strict=True):
        assert [s.mark for s in translated.spans] == [s.mark for s in source.spans]
        assert all(0 <= s.start <= s.end <= len(translated.text) for s in translated.spans)
        nested_as_given(source, translated)


def test_a_span_wraps_the_translation_of_its_words():
    text = "a red car goes home ."
    units = [Marked(text, (Span(2, 9, "b"), Span(6, 9, "i"))), Marked(text, (Span(14, 14, "br"),))]
    found, alone = translate_marked(REVERSED_ALIGNED, units)
    assert found.text == alone.text == ". HOME GOES CAR RED A"
    bold, italic = found.spans
    assert found.text[bold.start : bold.end] == "CAR RED" and found.text[italic.start : italic.end] == "CAR"
    (br,) = alone.spans  # an empty span: after the translation of the word before it ("goes")
    assert found.text[: br.start] == ". HOME GOES"


def test_without_alignments_a_span_goes_where_it_stands_in_proportion():
    unit = Marked("one two three four", (Span(4, 7, "b"),))
    in_proportion = translate_marked(REVERSED, [unit])[0]
    aligned = translate_marked(REVERSED_ALIGNED, [unit])[0]
    assert aligned.text == in_proportion.text == "FOUR THREE TWO ONE"
    (span,) = aligned.spans
    assert aligned.text[span.start : span.end] == "TWO"
    (span,) = in_proportion.spans  # the second word of four
    assert in_proportion.text[span.start : span.end] == "THREE"


def test_interleave_keeps_the_order_of_the_markup():
    assert interleave("abc", [(1, "<b>"), (2, "</b>"), (0, "<br>")]) == "a<b>b</b><br>c"


@pytest.mark.parametrize(
    "spans",
    [
        (Span(2, 5, 0), Span(1, 3, 1)),  # out of order
        (Span(0, 2, 0), Span(1, 3, 1)),  # crossing
        (Span(0, 10, 0),),  # past the text's end
        (Span(1, 2, 0), Span(1, 3, 1)),  # the inner first
    ],
)
def test_spans_out_of_order_crossing_or_outside_are_refused(spans):
    with pytest.raises(ValueError):
        Marked("a red car", spans)
