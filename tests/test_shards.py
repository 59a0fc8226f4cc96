"""`evo-mt translate --shard-id I --num-shards N`: each shard one block of the input's lines,
whole and in order; the shards' outputs joined (cat) are one process's output."""

import io
import json

import pytest
from conftest import evo_mt, toy_lines
from hypothesis import given
from hypothesis import strategies as st

from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.base.shards import shard_bounds, shard_of


@given(lines=st.integers(0, 500), num_shards=st.integers(1, 40))
def test_shard_blocks_follow_each_other_and_cover_every_line_once(lines, num_shards):
    blocks = [shard_bounds(lines, shard, num_shards) for shard in range(num_shards)]
    assert blocks[0][0] == 0 and blocks[-1][1] == lines
    assert all(end == first for (_, end), (first, _) in zip(blocks, blocks[1:], strict=False))
    sizes = [end - first for first, end in blocks]
    assert max(sizes) - min(sizes) <= 1


class Pipe(io.BytesIO):
    """A stream that cannot seek, as a pipe on stdin."""

    def seekable(self):
        return False


@pytest.mark.parametrize("stream", [io.BytesIO, Pipe])
def test_a_shard_reads_its_block_from_a_file_or_a_pipe(stream):
    data = b"zero\r\none\n\ntwo\x0bstill two\nthree\nfour"  # the lines evo-mt's readers count
    found = []
    for shard in range(3):
        first, lines = shard_of(stream(data), shard, 3)
        found.append((first, list(lines)))
    expected = [(0, [b"zero\r\n", b"one\n"]), (2, [b"\n", b"two\x0bstill two\n"]), (4, [b"three\n", b"four"])]
    assert found == expected


@pytest.mark.parametrize("shard_id,num_shards", [(3, 3), (-1, 3), (0, 0)])
def test_a_shard_no_split_has_is_refused(shard_id, num_shards):
    with pytest.raises(OptionError):
        shard_bounds(10, shard_id, num_shards)


def test_three_shards_joined_are_one_process_output(exported_toy, toy_run, fairseq_env, tmp_path):
    corpus = tmp_path / "corpus.en"
    corpus.write_text("\n".join(toy_lines(toy_run, 200)) + "\n", encoding="utf-8")
    for options in ([], ["--json"]):
        whole = evo_mt("translate", str(exported_toy), "--input", str(corpus), *options, env=fairseq_env)
        assert whole.returncode == 0, whole.stderr
        shards = []
        for shard in range(3):
            # From a pipe as from a file: shard 1's lines come through standard input.
            source = {"input": corpus.read_text(encoding="utf-8")} if shard == 1 else {}
            named = [] if shard == 1 else ["--input", str(corpus)]
            done = evo_mt(
                "translate", str(exported_toy), *named, *options, "--shard-id", str(shard),
                "--num-shards", "3", env=fairseq_env, **source,
            )
            assert done.returncode == 0, done.stderr
            shards.append(done.stdout)
        assert [len(out.splitlines()) for out in shards] == [66, 67, 67]
        if not options:
            assert "".join(shards) == whole.stdout
            continue
        # A line's score depends, in its last float32 digits, on the batch it decoded in
        # (padding to the batch's longest source), as with another --batch-size.
        joined = [json.loads(line) for line in "".join(shards).splitlines()]
        expected = [json.loads(line) for line in whole.stdout.splitlines()]
        assert [line["translation"] for line in joined] == [line["translation"] for line in expected]
        scores = [line["score"] for line in expected]
        assert [line["score"] for line in joined] == pytest.approx(scores, abs=1e-5)


@pytest.mark.parametrize(
    "options,message",
    [
        (["--shard-id", "3", "--num-shards", "3"], "--shard-id must be from 0 to 2 (--num-shards 3), not 3"),
        (["--num-shards", "0"], "--num-shards must be at least 1, not 0"),
        (["--num-shards", "2", "--format", "markdown"], "--num-shards does not apply to --format markdown"),
    ],
)
def test_bad_shards_are_one_line_errors(options, message, exported_toy, fairseq_env):
    done = evo_mt("translate", str(exported_toy), *options, env=fairseq_env, input="a line\n")
    assert done.returncode == 1
    assert done.stderr.startswith(f"evo-mt: error: {message}") and len(done.stderr.splitlines()) == 1
    assert done.stdout == ""
