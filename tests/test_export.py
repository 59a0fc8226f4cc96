"""`evo-mt export`: the exported folder translates as the lean engine does, on ONNX Runtime,
without torch or fairseq, and refuses a folder that is not what its manifest says."""

import json
import shutil
import sys

import httpx
import numpy as np
import pytest
from conftest import evo_mt, run_command, toy_lines

from evo_mt.evidence.serve_load import ServerProcess
from evo_mt.pipeline.translation import Translator
from evo_mt.runtime.model.folder import DECODER, ENCODER, MANIFEST, TARGET_DICTIONARY
from evo_mt.runtime.model.sessions import CacheTable
from evo_mt.runtime.text.exported import ExportedTranslator

# Runs a command with torch and fairseq made unimportable: any import of them fails loudly.
BLOCKED = """
import runpy, sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "fairseq", "fairseq_cli"):
            raise ImportError("blocked: " + name)
sys.meta_path.insert(0, Blocked())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__") if sys.argv[0].endswith(".py") else exec(sys.argv[0])
"""
RUNTIME_API = """
import sys
from evo_mt.runtime.text.exported import ExportedTranslator
import evo_mt.runtime.serving.server
translator = ExportedTranslator.load(sys.argv[1], beam=3, nbest=2)
print(translator.translate(["yesterday the rimo tenenulu malas the vamana sasesafo ."])[0][1])
assert not any(name.split(".")[0] in ("torch", "fairseq") for name in sys.modules)
"""


def translate_folder(folder, lines, env, *options):
    done = evo_mt("translate", str(folder), *options, env=env, input="\n".join(lines) + "\n")
    return done


def test_exported_translations_equal_the_lean_engines(exported_toy, toy_run):
    lines = toy_lines(toy_run, 60) + ["", "an unknown w0rd"]
    lean = Translator.load(toy_run, beam=4, nbest=2, device="cpu").translate(lines, batch_size=16)
    exported = ExportedTranslator.load(exported_toy, beam=4, nbest=2, workers=2, threads=1)
    assert exported.translate(lines, batch_size=16) == lean


def test_a_vanilla_model_exports_and_translates_as_the_lean_engine(toy_run, tmp_path, fairseq_env):
    # Its graph keeps no rows per hypothesis, so the exporter leaves out the `reorder` input.
    from evo_mt.evidence.untrained_runs import untrained_pair
    from evo_mt.pipeline.run_folder import Run

    _, vanilla = untrained_pair(Run(toy_run), "tiny", tmp_path / "untrained")
    evo_mt("export", str(vanilla.root), "--output", str(tmp_path / "vanilla-model"), env=fairseq_env)
    lines = toy_lines(toy_run, 6)
    lean = Translator.load(vanilla.root, beam=3, device="cpu").translate(lines, batch_size=4)
    exported = ExportedTranslator.load(tmp_path / "vanilla-model", beam=3, workers=1, threads=1)
    assert exported.translate(lines, batch_size=4) == lean
    assert "reorder" not in exported.model.decoder_inputs


def test_a_cache_table_keeps_every_row_when_it_grows():
    # 3 steps of room for 4 hypotheses a step; 7 steps written, of 2 to 4 hypotheses each.
    table = CacheTable(heads=2, head_dim=3, rows_per_step=4, steps=3)
    rng = np.random.default_rng(0)
    written = {}
    for step in range(7):
        new = rng.standard_normal((2, 2 + step % 3, 1, 3)).astype(np.float32)
        table.write(step, new)
        written[step] = new
    assert table.array.shape == (2, 3 * 4 * 4, 3)  # doubled twice
    for step, new in written.items():
        rows = table.array[:, step * 4 : step * 4 + new.shape[1]]
        assert np.array_equal(rows, new[:, :, 0])


def test_workers_translate_as_one_worker_does(exported_toy, toy_run):
    # 60 lines: more batches than workers; 5: one batch, cut so that each worker has a part.
    lines = toy_lines(toy_run, 60)
    one = ExportedTranslator.load(exported_toy, workers=1, threads=1)
    for workers, threads in ((2, 1), (3, 2)):
        several = ExportedTranslator.load(exported_toy, workers=workers, threads=threads)
        assert (several.workers, several.threads) == (workers, threads)
        for count in (60, 5):
            assert several.translate(lines[:count]) == one.translate(lines[:count])


@pytest.mark.parametrize(
    "omp, workers, threads, expected",
    [("1", None, None, (1, 1)), ("4", None, None, (4, 1)), ("4", None, 2, (2, 2)), ("4", 1, None, (1, 4)),
     ("4", 3, 3, (3, 3)), ("", 2, None, None)],
)
def test_workers_times_threads_fill_the_cores_by_default(omp, workers, threads, expected, monkeypatch):
    from evo_mt.runtime.model.sessions import available_cores, thread_layout

    if omp:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    else:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        cores = available_cores()
        expected = (2, max(1, cores // 2))
    assert thread_layout(workers, threads) == expected


def test_workers_and_threads_errors_are_one_line(exported_toy, toy_run, fairseq_env):
    from evo_mt.runtime.base.errors import OptionError
    from evo_mt.runtime.model.sessions import thread_layout

    with pytest.raises(OptionError, match="at least 1"):
        thread_layout(0, None)
    lean = evo_mt("translate", str(toy_run), "--engine", "lean", "--workers", "2", env=fairseq_env, input="a")
    assert lean.returncode != 0
    assert lean.stderr.strip() == (
        "evo-mt: error: --workers applies to ONNX Runtime (--engine onnx), not --engine lean"
    )
    lines = toy_lines(toy_run, 12)
    two = translate_folder(exported_toy, lines, fairseq_env, "--workers", "2", "--threads", "1")
    assert two.returncode == 0 and two.stdout == translate_folder(exported_toy, lines, fairseq_env).stdout


def test_translate_and_the_runtime_api_run_with_torch_and_fairseq_blocked(exported_toy, toy_run, fairseq_env):
    lines = toy_lines(toy_run, 5)
    command = [sys.executable, "-c", BLOCKED, "from evo_mt_cli.app import main; main()"]
    done = run_command([*command, "translate", str(exported_toy)], fairseq_env, input="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr[-2000:]
    expected = translate_folder(exported_toy, lines, fairseq_env).stdout
    assert done.stdout == expected and len(done.stdout.splitlines()) == 5
    api = run_command([sys.executable, "-c", BLOCKED, RUNTIME_API, str(exported_toy)], fairseq_env)
    assert api.returncode == 0, api.stderr[-2000:]
    assert api.stdout.strip()


def test_the_runtime_imports_neither_torch_nor_fairseq(fairseq_env):
    # Every module of the runtime, each layer's (evo_mt.runtime.base, search, model, text, serving).
    code = "import importlib, pkgutil, sys\nimport evo_mt.runtime as runtime\n"
    code += "for m in pkgutil.walk_packages(runtime.__path__, 'evo_mt.runtime.'):\n"
    code += "    importlib.import_module(m.name)\n"
    code += "print(sorted({n.split('.')[0] for n in sys.modules} & {'torch', 'fairseq', 'fairseq_cli'}))"
    done = run_command([sys.executable, "-c", code], fairseq_env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def _changed_byte(folder):
    data = bytearray((folder / DECODER).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / DECODER).write_bytes(bytes(data))
    return DECODER


def _truncated(folder):
    data = (folder / ENCODER).read_bytes()
    (folder / ENCODER).write_bytes(data[: len(data) // 2])
    return ENCODER


def _missing(folder):
    (folder / TARGET_DICTIONARY).unlink()
    return TARGET_DICTIONARY


def _extra(folder):
    (folder / "notes.txt").write_text("not part of it\n")
    return "notes.txt"


def _manifest_field(field, value):
    def change(folder):
        manifest = json.loads((folder / MANIFEST).read_text())
        manifest[field] = value
        (folder / MANIFEST).write_text(json.dumps(manifest))
        return MANIFEST

    return change


TAMPERING = {
    "a changed byte": (_changed_byte, "sha256 differs"),
    "a truncated file": (_truncated, "truncated or replaced"),
    "a missing file": (_missing, "missing from the exported model"),
    "an extra file": (_extra, "not part of the exported model"),
    "a foreign format": (_manifest_field("format", "ctranslate2"), "not an evo-mt-onnx manifest"),
    "a newer format version": (_manifest_field("version", 99), "format version 99"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_a_tampered_folder_is_refused_in_one_line(case, exported_toy, tmp_path, fairseq_env):
    folder = tmp_path / "model"
    shutil.copytree(exported_toy, folder)
    tamper, message = TAMPERING[case]
    named = tamper(folder)
    done = translate_folder(folder, ["a line"], fairseq_env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("evo-mt: error: ")
    assert message in done.stderr and str(folder / named) in done.stderr


def test_a_folder_without_manifest_is_not_taken_for_an_export(tmp_path, fairseq_env):
    (tmp_path / "encoder.onnx").write_bytes(b"\0")
    done = translate_folder(tmp_path, ["a line"], fairseq_env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1


def test_export_refuses_an_existing_folder_unless_forced(toy_run, exported_toy, tmp_path, fairseq_env):
    output = tmp_path / "taken"
    output.mkdir()
    (output / "keep.txt").write_text("mine\n")
    done = evo_mt("export", str(toy_run), "--output", str(output), env=fairseq_env)
    assert done.returncode == 1 and "--output" in done.stderr and "--force" in done.stderr
    assert [p.name for p in output.iterdir()] == ["keep.txt"]
    forced = ["--quantize", "int8", "--force"]
    done = evo_mt("export", str(toy_run), "--output", str(output), *forced, env=fairseq_env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (output / "keep.txt").exists()
    assert not list(tmp_path.glob(".*")), "no temporary folder left behind"
    manifest = json.loads((output / MANIFEST).read_text())
    assert manifest["quantize"] == "int8" and manifest["decoding"]["beam"] == 5
    assert (output / DECODER).stat().st_size < (exported_toy / DECODER).stat().st_size / 2
    lines = toy_lines(toy_run, 40)
    int8 = translate_folder(output, lines, fairseq_env).stdout.splitlines()
    fp32 = translate_folder(exported_toy, lines, fairseq_env).stdout.splitlines()
    assert len(int8) == len(fp32) == 40 and all(int8)
    assert sum(a == b for a, b in zip(int8, fp32, strict=True)) >= 30  # 8-bit weights: close, not equal


def test_serve_answers_from_an_exported_folder(exported_toy, toy_run, fairseq_env):
    lines = toy_lines(toy_run, 4)
    with ServerProcess(exported_toy, "--beam", "2", env=fairseq_env) as server:
        answer = httpx.post(f"{server.url}/translate", json={"text": lines}, timeout=60).json()
        info = httpx.get(f"{server.url}/info", timeout=30).json()["models"][0]
    expected = translate_folder(exported_toy, lines, fairseq_env, "--beam", "2").stdout.splitlines()
    assert answer["translations"] == expected
    assert info["engine"] == "onnxruntime" and info["recipe"] == "toy" and info["beam"] == 2
    assert server.returncode == 0


def test_export_mistakes_end_in_one_line_errors(toy_run, exported_toy, tmp_path, fairseq_env):
    output = tmp_path / "m"
    done = evo_mt("export", str(toy_run), "--output", str(output), "--quantize", "int4", env=fairseq_env)
    assert done.returncode == 1 and done.stderr.startswith("evo-mt: error: --quantize")
    assert not output.exists() and not list(tmp_path.iterdir())
    done = evo_mt("translate", str(exported_toy), "--quantize", "int8", env=fairseq_env, input="x\n")
    assert done.returncode == 1 and done.stderr == (
        "evo-mt: error: --quantize does not apply to an exported folder (it was fixed at export)\n"
    )


# The TorchScript exporter (what evo_mt.export uses) and its custom symbolics are deprecated.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("weight", [0.0, 0.3, 0.5, 0.9])
def test_the_exported_lerp_takes_torchs_branch_for_its_constant_weight(weight, tmp_path):
    import onnx
    import onnxruntime
    import torch

    from evo_mt.export.exporter import OPSET, _constant_weight_lerp

    class Lerp(torch.nn.Module):
        def forward(self, start, end):
            return torch.lerp(start, end, weight)

    start, end = torch.randn(3, 4, 1, 9) * 30, torch.randn(3, 4, 1, 9) * 30
    path = tmp_path / "lerp.onnx"
    with _constant_weight_lerp():
        torch.onnx.export(Lerp(), (start, end), str(path), dynamo=False, opset_version=OPSET)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert "Where" not in [node.op_type for node in onnx.load(str(path)).graph.node]
    names = [item.name for item in session.get_inputs()]
    (got,) = session.run(None, dict(zip(names, [start.numpy(), end.numpy()], strict=True)))
    torch.testing.assert_close(torch.from_numpy(got), torch.lerp(start, end, weight), rtol=0, atol=1e-5)
