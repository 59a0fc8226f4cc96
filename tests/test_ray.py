"""`evo-mt translate DIR --ray` and evo_mt.runtime.cluster.ray_translation: an exported folder
translated by Ray Data's workers on a local Ray instance, line for line as one process."""

import json
import subprocess
import sys

from conftest import evo_mt, toy_lines

LINES = 1000  # the toy run's test and valid sources


def test_ray_workers_translate_as_one_process(exported_toy, toy_run, fairseq_env, tmp_path):
    corpus = tmp_path / "corpus.en"
    lines = toy_lines(toy_run, 500) + (toy_run / "raw" / "valid.en").read_text().splitlines()[:500]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    one = evo_mt("translate", str(exported_toy), "--input", str(corpus), env=fairseq_env)
    assert one.returncode == 0, one.stderr
    env = dict(fairseq_env)
    env.pop("RAY_ADDRESS", None)  # a local instance, started and stopped by the command
    on_ray = evo_mt(
        "translate", str(exported_toy), "--input", str(corpus), "--ray", "--workers", "2", env=env
    )
    assert on_ray.returncode == 0, on_ray.stderr[-3000:]
    assert len(one.stdout.splitlines()) == LINES
    assert on_ray.stdout == one.stdout


def test_the_runtime_imports_ray_only_when_a_translation_runs_on_it(fairseq_env):
    code = (
        "import sys, evo_mt.runtime.cluster.ray_translation, evo_mt_cli.app\n"
        "assert 'ray' not in sys.modules, 'ray imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=fairseq_env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_an_unreachable_cluster_is_a_one_line_error(exported_toy, fairseq_env):
    # Port 1 of the loopback: nothing listens there, so Ray's head is refused at once.
    done = evo_mt(
        "translate", str(exported_toy), "--ray-address", "127.0.0.1:1", env=fairseq_env, input="a line\n"
    )
    assert done.returncode == 1
    assert done.stderr == "evo-mt: error: no Ray cluster answers at 127.0.0.1:1: Connection refused\n"


def test_bench_ray_prints_one_process_against_ray(exported_toy, toy_run, fairseq_env, tmp_path):
    source = tmp_path / "lines.en"
    source.write_text("\n".join(toy_lines(toy_run, 40)) + "\n", encoding="utf-8")
    output = tmp_path / "ray.json"
    done = evo_mt(
        "bench", "ray", str(exported_toy), "--input", str(source), "--repeats", "1", "--json", str(output),
        env=fairseq_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| `evo-mt translate DIR --ray --workers 2` |" in done.stdout
    assert "Ray / one process (best times):" in done.stdout
    report = json.loads(output.read_text())
    assert [row["same_as_one_process"] for row in report["rows"]] == [True, True]
