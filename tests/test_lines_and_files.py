"""One definition of a line for every reader, and output files written as the user means them
(property-based over arbitrary text: Unicode line separators, CRLF, empty lines, invalid UTF-8)."""

import io
import os
import socket
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evo_mt.pipeline.corpora.text import corpus_lines
from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.files import atomic_file, make_folder, write_lines
from evo_mt.runtime.base.lines import file_lines, read_lines, split_lines, stream_lines

# Characters Python's str.splitlines() splits on but a line holds (fairseq, spm_encode, wc -l).
INSIDE = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
line = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n") | st.sampled_from(INSIDE))
crlf_safe_line = line.filter(lambda text: not text.endswith("\r"))


@given(st.lists(crlf_safe_line), st.booleans())
def test_a_line_ends_at_a_newline_only(tmp_path, lines, windows):
    ending = "\r\n" if windows else "\n"
    text = "".join(one + ending for one in lines)
    data = text.encode("utf-8")
    path = tmp_path / "text"
    path.write_bytes(data)
    assert split_lines(text) == lines
    assert read_lines(path) == lines
    assert list(file_lines(path)) == lines
    assert list(corpus_lines(path)) == lines
    assert list(stream_lines(io.BytesIO(data))) == lines
    assert len(lines) == data.count(b"\n")  # what `wc -l` counts


@given(st.lists(crlf_safe_line), crlf_safe_line.filter(bool))
def test_a_last_line_without_newline_is_a_line(lines, last):
    assert split_lines("".join(one + "\n" for one in lines) + last) == [*lines, last]


@given(st.lists(crlf_safe_line), st.binary(min_size=1, max_size=4).filter(lambda b: b"\n" not in b))
def test_invalid_utf8(tmp_path, lines, noise):
    data = "\n".join(lines).encode("utf-8") + b"\xff" + noise + b"\n"
    path = tmp_path / "bad"
    path.write_bytes(data)
    # Inputs to translate or train on: replaced, never fatal, no line gained or lost.
    assert len(list(file_lines(path))) == data.count(b"\n")
    assert len(list(stream_lines(io.BytesIO(data)))) == data.count(b"\n")
    # Texts that are compared exactly (references, hypotheses): refused, naming the file.
    with pytest.raises(UserError, match=f"{path}: not UTF-8 text .* on line {len(lines) or 1}"):
        read_lines(path)


@given(st.lists(crlf_safe_line))
def test_written_lines_read_back(tmp_path, lines):
    path = tmp_path / "out.txt"
    assert write_lines(path, lines) == len(lines)
    assert read_lines(path) == lines


def test_missing_and_folder_inputs_are_named(tmp_path):
    with pytest.raises(UserError, match=f"^{tmp_path / 'nope'}: no such file$"):
        read_lines(tmp_path / "nope")
    with pytest.raises(UserError, match=f"^{tmp_path}: a folder, not a text file$"):
        read_lines(tmp_path)


def test_writing_through_a_symbolic_link(tmp_path):
    (tmp_path / "target.txt").write_text("old\n")
    (tmp_path / "link.txt").symlink_to("target.txt")
    write_lines(tmp_path / "link.txt", ["new"])
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "target.txt").read_text() == "new\n"
    assert sorted(os.listdir(tmp_path)) == ["link.txt", "target.txt"]


def test_a_missing_folder_is_an_error_not_created(tmp_path):
    with pytest.raises(UserError, match=f"{tmp_path / 'typo'}: no such folder"):
        write_lines(tmp_path / "typo" / "out.txt", ["x"])
    assert not (tmp_path / "typo").exists()
    (tmp_path / "dangling").symlink_to("elsewhere/out.txt")
    with pytest.raises(UserError, match=f"{tmp_path / 'elsewhere'}: no such folder"):
        write_lines(tmp_path / "dangling", ["x"])
    # A command's own folder (a run's scores/) is made.
    write_lines(tmp_path / "run" / "scores" / "x.hyp", ["x"], own_folder=True)
    assert (tmp_path / "run" / "scores" / "x.hyp").read_text() == "x\n"


def test_a_full_device_is_an_error_and_stays_a_device():
    with pytest.raises(UserError, match="^/dev/full: cannot write it: No space left on device$"):
        write_lines(Path("/dev/full"), ["x"])
    assert Path("/dev/full").is_char_device()
    write_lines(Path("/dev/null"), ["x"])
    assert Path("/dev/null").is_char_device()


def test_a_pipe_is_written_to_not_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_lines(fifo, ["through the pipe"])
    reader.join(timeout=10)
    assert received == ["through the pipe\n"] and fifo.is_fifo()


def test_a_socket_or_folder_is_refused(tmp_path):
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock"))
        with pytest.raises(UserError, match="sock: a socket or block device"):
            write_lines(tmp_path / "sock", ["x"])
        assert (tmp_path / "sock").is_socket()
    with pytest.raises(UserError, match="a folder; name a file"):
        write_lines(tmp_path, ["x"])


def test_a_failed_write_changes_nothing(tmp_path):
    path = tmp_path / "kept.txt"
    path.write_text("before\n")
    with pytest.raises(RuntimeError), atomic_file(path) as scratch:
        scratch.write_text("half")
        raise RuntimeError("interrupted")
    assert path.read_text() == "before\n"
    assert os.listdir(tmp_path) == ["kept.txt"]


def test_a_run_folder_over_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="file: exists and is not a folder"):
        make_folder(tmp_path / "file")


def test_two_writers_of_one_file_at_once_leave_one_whole_output(tmp_path):
    """Each writer has a scratch file of its own: the last to finish wins, whole."""
    import threading

    from evo_mt.runtime.base.files import atomic_file

    target = tmp_path / "out.txt"
    first_open, second_done = threading.Event(), threading.Event()

    def first() -> None:
        with atomic_file(target) as scratch, open(scratch, "w", encoding="utf-8") as out:
            out.write("first half, ")
            out.flush()
            first_open.set()
            second_done.wait(10)
            out.write("first whole\n")

    def second() -> None:
        first_open.wait(10)
        with atomic_file(target) as scratch, open(scratch, "w", encoding="utf-8") as out:
            out.write("second whole\n")
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert target.read_text(encoding="utf-8") == "first half, first whole\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.txt"]  # no scratch left


def test_a_document_given_as_text_is_refused_in_one_line_before_the_model_loads(tmp_path):
    """A document whose extension names no format (report.zip; a .docx is read as one) would
    come back as garbage with exit 0: it is an error."""
    import subprocess
    import sys
    import zipfile

    document = tmp_path / "report.zip"
    with zipfile.ZipFile(document, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    output = tmp_path / "report.de.zip"
    done = subprocess.run(
        [sys.executable, "-m", "evo_mt_cli.app", "translate", str(tmp_path / "no-model"),
         "--input", str(document), "--output", str(output)],
        capture_output=True, text=True,
    )
    assert done.returncode == 1 and not output.exists()
    assert done.stderr == (
        f"evo-mt: error: {document}: a ZIP archive (as .docx, .odt, .pptx and .epub are), not text, and "
        "its extension names no document format (evo-mt translate --help lists them under --format)\n"
    )
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    from evo_mt.runtime.base.errors import UserError
    from evo_mt.runtime.base.lines import open_text_source

    with pytest.raises(UserError, match="image.png: binary, not text"):
        open_text_source(tmp_path / "image.png", text_only=True)
    (tmp_path / "text.txt").write_text("plain text\n")
    with open_text_source(tmp_path / "text.txt", text_only=True) as stream:
        assert stream.read() == b"plain text\n"
