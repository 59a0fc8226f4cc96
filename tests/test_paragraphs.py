"""Text, not sentences: paragraphs, blank lines, long lines and documents through the toy model,
as a run folder and as an exported folder."""

import json

import pytest
from conftest import evo_mt
from hypothesis import given
from hypothesis import strategies as st

from evo_mt.evidence import paragraphs
from evo_mt.runtime.text.exported import ExportedTranslator


def toy_lines(toy_run, count):
    return (toy_run / "raw" / "test.en").read_text().splitlines()[:count]


def translate(model, text, env, *options):
    done = evo_mt("translate", str(model), "--beam", "2", *options, env=env, input=text)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module", params=["run", "exported"])
def model(request, toy_run, exported_toy):
    return toy_run if request.param == "run" else exported_toy


def test_a_paragraph_is_translated_whole_as_its_sentences_one_a_line(model, toy_run, fairseq_env):
    sentences = toy_lines(toy_run, 9)
    one_a_line = translate(model, "\n".join(sentences) + "\n", fairseq_env).stdout.splitlines()
    # Sentences are translated alone, whatever they are batched with: joined, they are the paragraph's.
    text = "  " + " ".join(sentences[:3]) + "\n\n\t" + "  ".join(sentences[3:]) + " \n"
    done = translate(model, text, fairseq_env)
    assert done.stdout == (
        "  " + " ".join(one_a_line[:3]) + "\n\n\t" + "  ".join(one_a_line[3:]) + " \n"
    )
    # --no-split: the line is one sentence to the model, which ends after about one.
    unsplit = translate(model, text, fairseq_env, "--no-split").stdout.split("\n")
    assert len(unsplit) == 4 and unsplit[1] == ""
    assert len(unsplit[0].split()) < len(" ".join(one_a_line[:3]).split())


def test_a_line_of_eighty_sentences_and_a_thousand_words_without_punctuation(model, toy_run, fairseq_env):
    sentences = toy_lines(toy_run, 80)
    one_by_one = translate(model, "\n".join(sentences) + "\n", fairseq_env).stdout.splitlines()
    long_line = " ".join(sentences)
    words = " ".join(sentence.rstrip(" .") for sentence in toy_lines(toy_run, 100)).split()[:1000]
    assert len(words) == 1000
    done = translate(model, long_line + "\n" + " ".join(words) + "\n", fairseq_env)
    whole, unpunctuated = done.stdout.splitlines()
    assert whole == " ".join(one_by_one)
    # Cut into pieces between words, each translated: about as many words come back.
    assert len(unpunctuated.split()) > 800
    assert [line for line in done.stderr.splitlines() if "translated in pieces" in line]


def test_documents_from_a_file_to_a_file_keep_markdown(model, toy_run, fairseq_env, tmp_path):
    sentence = toy_lines(toy_run, 1)[0]
    document = tmp_path / "doc.md"
    document.write_text(
        f"# {sentence}\n\n{sentence} [{sentence}](https://example.com/page_1.html)\n\n"
        "```\ncode . stays . as is .\n```\n"
    )
    output = tmp_path / "doc.de.md"
    output.write_text("the previous translation\n")
    done = evo_mt(
        "translate", str(model), "--beam", "2", "--input", str(document), "--output", str(output),
        "--format", "markdown", env=fairseq_env,
    )
    assert done.returncode == 0 and done.stdout == "", done.stderr[-2000:]
    expected = translate(model, sentence + "\n", fairseq_env).stdout.strip()
    assert output.read_text() == (
        f"# {expected}\n\n{expected} [{expected}](https://example.com/page_1.html)\n\n"
        "```\ncode . stays . as is .\n```\n"
    )
    # A failure leaves the file that was there; the input is never the output.
    again = evo_mt(
        "translate", str(model), "--input", str(output), "--output", str(output), env=fairseq_env
    )
    assert again.returncode == 1 and again.stderr.startswith("evo-mt: error: --output")
    assert "Traceback" not in again.stderr


def test_a_wrapped_markdown_paragraph_is_translated_sentence_for_sentence(
    exported_toy, toy_run, fairseq_env, tmp_path
):
    first, second = (line.split() for line in toy_lines(toy_run, 2))
    plain = " ".join(first + second)
    first[2] = f"**{first[2]}**"
    second[3] = f"[{second[3]}](https://example.com/page_1.html)"
    words = first + second
    third = len(words) // 3
    wrapped = "\n".join(" ".join(words[i * third : (i + 1) * third if i < 2 else None]) for i in range(3))
    outputs = []
    for name, paragraph in (("wrapped", wrapped), ("one line", " ".join(words))):
        document = tmp_path / f"{name}.md"
        document.write_text(f"# {plain}\n\n{paragraph}\n\n```\ncode . stays\n```\n")
        found = translate(exported_toy, "", fairseq_env, "--input", str(document), "--format", "markdown")
        outputs.append(found.stdout)
    assert outputs[0] == outputs[1]
    heading, _, paragraph, *rest = outputs[0].split("\n")
    expected = translate(exported_toy, plain + "\n", fairseq_env).stdout.strip()
    assert heading == f"# {expected}" and rest == ["", "```", "code . stays", "```", ""]
    # The paragraph is the plain text's translation, sentence for sentence, with its marks.
    assert paragraph.count("**") == 2 and paragraph.count("](https://example.com/page_1.html)") == 1
    unmarked = paragraph.replace("**", "").replace("[", "").replace("](https://example.com/page_1.html)", "")
    assert unmarked == expected


def test_bench_paragraphs_scores_paragraphs_like_sentences(toy_run, fairseq_env, tmp_path):
    figures = tmp_path / "paragraphs.json"
    done = evo_mt(
        "bench", "paragraphs", str(toy_run), "--repeats", "1", "--json", str(figures), env=fairseq_env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(figures.read_text())
    assert report["paragraphs"] > 100 and "paragraphs, one a line" in done.stdout
    assert report["bleu_paragraphs"] >= report["bleu_sentence_by_sentence"] - 1.0
    assert report["long_line"]["words"] >= 0.9 * report["long_line"]["words_one_by_one"]
    assert report["segmenters"]["sentencex"]["exact"] == report["paragraphs"]


def test_paragraphs_are_made_of_sentences_that_end_as_sentences():
    sources = ["One.", "Two?", "Open file", "Three!", "Four.", "Five.", "Six.", "Seven."]
    made = paragraphs.make_paragraphs(sources, [s.upper() for s in sources], seed=1)
    assert all(3 <= len(group) <= 5 for group in made.sources)
    assert "Open file" not in sum(made.sources, [])
    assert made.joined_references[0] == " ".join(made.references[0])


@pytest.fixture(scope="module")
def exported(exported_toy):
    return ExportedTranslator.load(exported_toy, beam=1)


words = st.sampled_from(["the", "rimo", "yesterday", ".", "?", "!", ",", "Hello", "你好", "。", "x" * 30])


@given(st.lists(st.lists(words, max_size=12).map(" ".join), min_size=1, max_size=4))
def test_every_line_with_text_gives_a_line_with_text(exported, lines):
    translations = exported.translate(lines)
    assert len(translations) == len(lines)
    for line, (translation,) in zip(lines, translations, strict=True):
        assert bool(line.strip()) == bool(translation.strip()), (line, translation)


def test_prepare_keeps_the_training_lengths_that_cutting_reads(toy_run, tmp_path):
    from evo_mt.pipeline.run_folder import TRAINING_LENGTHS, Run

    run = Run(toy_run)
    kept = run.training_source_pieces()
    assert (run.encoded / TRAINING_LENGTHS).is_file() and 0 < kept["p90"] <= kept["longest"]
    # A run prepared before they were kept: counted from its encoded training text, alike.
    older = tmp_path / "run"
    (older / "encoded").mkdir(parents=True)
    (older / "recipe.toml").write_bytes((toy_run / "recipe.toml").read_bytes())
    source = f"train.{run.recipe().source_lang}"
    (older / "encoded" / source).write_bytes((run.encoded / source).read_bytes())
    assert Run(older).training_source_pieces() == kept
