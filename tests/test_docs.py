"""The README and the manual in docs/: links resolve, no machine's paths, the quick tour runs."""

import json
import re
import signal
import socket
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest
from conftest import EVO_MT

import evo_mt

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 300

FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`\n]*`")
MARKDOWN_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""<(?:img|a)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:
# Paths of the machine the docs were written on, or of any one user: never in the docs.
MACHINE_PATH = re.compile(r"(?<![\w.])(/work|/tmp|/home|/root|/Users)(?=[/\s`'\")]|$)|(?<![\w/])~/")

QUICK_TOUR_MARK = "<!-- quick-tour"
SERVE_PORT = "8080"


def prose_and_code(page: Path):
    """The page's lines outside fenced code blocks, and the fenced blocks' lines."""
    prose, code, fenced = [], [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        (code if fenced else prose).append(line)
    return prose, code


def heading_anchors(page: Path) -> set:
    """The anchors a code host gives the page's headings (GitHub's rule)."""
    anchors, seen = set(), {}
    for line in prose_and_code(page)[0]:
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", INLINE_CODE.sub(lambda m: m.group(0)[1:-1], match.group(1)).lower())
        slug = slug.replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def links(page: Path) -> List[str]:
    text = "\n".join(INLINE_CODE.sub("", line) for line in prose_and_code(page)[0])
    return MARKDOWN_LINK.findall(text) + HTML_LINK.findall(text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_resolves(page):
    broken = []
    for target in links(page):
        if EXTERNAL.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if ROOT not in resolved.parents and resolved != ROOT or not resolved.exists():
            broken.append(f"{target}: no such file in the project")
        elif anchor and resolved.suffix == ".md" and anchor not in heading_anchors(resolved):
            broken.append(f"{target}: no heading with the anchor #{anchor} in {resolved.name}")
    assert not broken, f"{page.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_the_manual_has_its_pages_and_the_readme_stays_short():
    names = {page.name for page in PAGES}
    for page in ("install.md", "recipes.md", "training.md", "translation-and-serving.md", "plugin.md",
                 "benchmarks.md", "evidence.md", "architecture.md", "troubleshooting.md"):
        assert page in names
    assert len(README.read_text(encoding="utf-8").splitlines()) <= README_MAX_LINES


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_names_a_path_outside_the_project(page):
    hits = [
        f"line {number}: {line.strip()}"
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if MACHINE_PATH.search(line)
    ]
    assert not hits, f"{page.relative_to(ROOT)} names paths of a machine:\n" + "\n".join(hits)


def test_the_link_checks_see_what_they_should(tmp_path):
    """The checks themselves: a broken link, a heading anchor, a machine path."""
    page = tmp_path / "page.md"
    page.write_text(
        '# A `code` heading\n\n[ok](#a-code-heading) ![pic](nowhere.png) <img src="gone.png">\n'
        "```\n[in code](not-a-link.md)\n```\nsee /work/x and ~/y\n"
    )
    assert links(page) == ["#a-code-heading", "nowhere.png", "gone.png"]
    assert len(links(README)) > 20
    assert heading_anchors(page) == {"a-code-heading"}
    assert MACHINE_PATH.search("see /work/x") and MACHINE_PATH.search("~/y")
    assert not MACHINE_PATH.search("runs/toy/raw and docs/evidence and /dev/stdout")


def quick_tour_commands() -> List[str]:
    """The commands of the README's blocks marked `<!-- quick-tour -->`, continuation lines joined."""
    lines = README.read_text(encoding="utf-8").splitlines()
    commands: List[str] = []
    for index, line in enumerate(lines):
        if not line.startswith(QUICK_TOUR_MARK):
            continue
        assert lines[index + 1].startswith("```bash"), f"README line {index + 2}: no bash block"
        pending = ""
        for body in lines[index + 2 :]:
            if FENCE.match(body):
                break
            if body.lstrip().startswith("#") or not body.strip():
                continue
            pending += body.rstrip()
            if pending.endswith("\\"):
                pending = pending[:-1].rstrip() + " "
                continue
            commands.append(pending)
            pending = ""
    return commands


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def runnable_tour(toy_run: Path, port: str, export_available: bool) -> List[str]:
    replacements: Dict[str, str] = {
        "runs/toy": str(toy_run),
        "--user-dir evo_mt": f"--user-dir {ROOT / 'evo_mt'}",
        SERVE_PORT: port,
    }
    tour = []
    for command in quick_tour_commands():
        if not export_available and ("evo-mt export" in command or "toy-model" in command):
            continue
        for old, new in replacements.items():
            command = command.replace(old, new)
        tour.append(command)
    return tour


def test_the_readme_quick_tour_runs(toy_run, fairseq_env, tmp_path):
    commands = quick_tour_commands()
    for part in ("evo-mt --version", "evo-mt translate runs/toy", "evo-mt serve runs/toy", "curl ",
                 "evo-mt export runs/toy", "evo-mt translate toy-model", "fairseq-interactive"):
        assert any(part in command for command in commands), f"the quick tour lost its {part!r} step"
    env = dict(fairseq_env)
    env.pop("EVO_MT_FAIRSEQ_FIXES", None)  # the README's own commands say when they need it
    # Export is the lab's newest command: its steps run wherever `evo-mt export` exists.
    export_help = subprocess.run([EVO_MT, "export", "--help"], env=env, capture_output=True)
    export_available = export_help.returncode == 0
    background: List[subprocess.Popen] = []
    try:
        for command in runnable_tour(toy_run, free_port(), export_available):
            if command.endswith("&"):
                log = open(tmp_path / f"background{len(background)}.log", "w")
                background.append(subprocess.Popen(
                    ["bash", "-c", "exec " + command[:-1]], cwd=tmp_path, env=env,
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                ))
                continue
            if command.startswith("kill %"):
                server = background[int(command.split("%")[1]) - 1]
                server.send_signal(signal.SIGTERM)
                assert server.wait(timeout=120) == 0, "the server did not exit 0 on SIGTERM"
                continue
            done = subprocess.run(
                ["bash", "-o", "pipefail", "-c", command], cwd=tmp_path, env=env,
                capture_output=True, text=True, timeout=300,
            )
            assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
            check_output(command, done.stdout)
    finally:
        for process in background:
            if process.poll() is None:
                process.kill()
                process.wait()


def check_output(command: str, stdout: str) -> None:
    """What each kind of quick-tour command must print."""
    if command.endswith("--version"):
        assert stdout.strip() == f"evo-mt {evo_mt.__version__}"
    elif command.startswith("curl "):
        translation = json.loads(stdout)["translatedText"]
        assert isinstance(translation, str) and translation.strip(), stdout
    elif "fairseq-interactive" in command:
        detokenized = [line.split("\t")[-1] for line in stdout.splitlines() if line.startswith("D-0\t")]
        assert len(detokenized) == 1 and detokenized[0].strip(), stdout[-2000:]
    elif "evo-mt translate" in command:
        lines = stdout.split("\n")
        assert len(lines) == 2 and lines[0].strip() and lines[1] == "", repr(stdout)
    else:
        assert command.startswith("evo-mt export"), f"no check for the quick tour's command {command!r}"
