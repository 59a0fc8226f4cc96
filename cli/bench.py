"""`evo-mt bench`: what evolving attention costs, measured side by side with fairseq's Transformer.

Both models have the same dimensions, get the same batches and run in the same process:
a training step (forward, backward, Adam), the peak memory of that step, and beam search
with incremental decoding. Each figure is the median over repetitions, after a warm-up.
"""

import argparse
import copy
import math
import platform
import random
import statistics
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F

from evo_mt_cli.errors import UserError

SIZES = {
    "tiny": "ea_transformer_tiny",
    "iwslt_de_en": "ea_transformer_iwslt_de_en",
    "wmt_en_de": "ea_transformer_wmt_en_de",
    "big": "ea_transformer_vaswani_wmt_en_de_big",
}
VOCAB = 10_000  # joint subword vocabulary, as in the IWSLT'14 recipe
MAX_TOKENS = 4096
BEAM = 5


def dictionary(size: int = VOCAB):
    from fairseq.data import Dictionary

    d = Dictionary()
    for i in range(size - d.nspecial):
        d.add_symbol(f"w{i}")
    return d


def build_model(arch: str, d, *, vanilla: bool = False, seed: int = 0, **overrides) -> torch.nn.Module:
    """An `ea_transformer` architecture, or fairseq's `transformer` with exactly its dimensions."""
    from types import SimpleNamespace

    from fairseq.models import ARCH_CONFIG_REGISTRY
    from fairseq.models.transformer import TransformerModel

    from evo_mt.ea_transformer import EATransformerModel

    args = argparse.Namespace(arch=arch, **overrides)
    ARCH_CONFIG_REGISTRY[arch](args)
    task = SimpleNamespace(source_dictionary=d, target_dictionary=d)
    torch.manual_seed(seed)
    if vanilla:
        args = copy.copy(args)
        args.arch = "transformer"
        return TransformerModel.build_model(args, task)
    return EATransformerModel.build_model(args, task)


@dataclass(frozen=True)
class Batch:
    src_tokens: torch.Tensor
    src_lengths: torch.Tensor
    prev_output_tokens: torch.Tensor
    target: torch.Tensor

    @property
    def target_tokens(self) -> int:
        return int(self.src_lengths.sum())  # targets are as long as their sources here

    def to(self, device: torch.device) -> "Batch":
        return Batch(
            *(t.to(device) for t in (self.src_tokens, self.src_lengths, self.prev_output_tokens, self.target))
        )


def sentence_lengths(count: int, corpus: Path | None, seed: int) -> List[int]:
    """Lengths in subwords (with </s>): from a corpus file, or drawn like IWSLT'14's.

    Without a corpus: log-normal with median 20 and sigma 0.6, cut to 2..175 tokens, close to
    the subword lengths of IWSLT'14 German-English training sentences (mean about 24).
    """
    rng = random.Random(seed)
    if corpus is not None:
        try:
            lines = Path(corpus).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as error:
            raise UserError(f"--corpus {corpus}: {error.strerror}") from error
        # ~1.3 subwords per whitespace word for a joint 10k sentencepiece model.
        lengths = [min(175, max(2, round(1.3 * len(line.split())) + 1)) for line in lines if line.strip()]
        if not lengths:
            raise UserError(f"--corpus {corpus}: no sentences in it")
        return [rng.choice(lengths) for _ in range(count)]
    return [min(175, max(2, round(math.exp(rng.gauss(math.log(20), 0.6))))) for _ in range(count)]


def make_batches(lengths: List[int], d, max_tokens: int, seed: int, max_sentences: int = 0) -> List[Batch]:
    """fairseq's way: sort by length, fill each batch up to max_tokens (padded size)."""
    from fairseq.data import data_utils

    generator = torch.Generator().manual_seed(seed)
    batches, current = [], []
    for length in sorted(lengths):
        full = (len(current) + 1) * length > max_tokens or (max_sentences and len(current) == max_sentences)
        if current and full:
            batches.append(current)
            current = []
        current.append(length)
    if current:
        batches.append(current)

    def sentences(group: List[int]) -> List[torch.Tensor]:
        return [
            torch.cat(
                [torch.randint(d.nspecial, len(d), (n - 1,), generator=generator), torch.tensor([d.eos()])]
            )
            for n in group
        ]

    result = []
    for group in batches:
        source, target = sentences(group), sentences(group)
        result.append(
            Batch(
                src_tokens=data_utils.collate_tokens(source, d.pad(), d.eos(), left_pad=True),
                src_lengths=torch.tensor(group),
                prev_output_tokens=data_utils.collate_tokens(
                    target, d.pad(), d.eos(), left_pad=False, move_eos_to_beginning=True
                ),
                target=data_utils.collate_tokens(target, d.pad(), d.eos(), left_pad=False),
            )
        )
    return result


def spread(batches: List[Batch], count: int) -> List[Batch]:
    """`count` batches evenly over the length-sorted list: short, medium and long ones."""
    if count < 1:
        raise UserError("the number of batches to time must be at least 1")
    if len(batches) <= count:
        return batches
    if count == 1:
        return [batches[len(batches) // 2]]
    return [batches[round(i * (len(batches) - 1) / (count - 1))] for i in range(count)]


def _loss(model, batch: Batch, pad: int) -> torch.Tensor:
    logits, _ = model(batch.src_tokens, batch.src_lengths, batch.prev_output_tokens)
    return F.cross_entropy(
        logits.view(-1, logits.size(-1)).float(), batch.target.view(-1), ignore_index=pad, label_smoothing=0.1
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _autocast(device: torch.device, dtype: str):
    if dtype == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=torch.float16 if dtype == "fp16" else torch.bfloat16)


def _median_rate(work, batches: List[Batch], units: int, device, warmup: int, repeats: int) -> float:
    """Units per second of `work` over all batches: the median of `repeats` timed passes."""
    for batch in batches[:warmup]:
        work(batch)
    rates = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        for batch in batches:
            work(batch)
        _sync(device)
        rates.append(units / (time.perf_counter() - start))
    return statistics.median(rates)


def train_tokens_per_second(model, batches, pad, device, dtype, warmup: int, repeats: int) -> float:
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == "fp16")

    def step(batch: Batch) -> None:
        optimizer.zero_grad(set_to_none=True)
        with _autocast(device, dtype):
            loss = _loss(model, batch, pad)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return _median_rate(step, batches, sum(b.target_tokens for b in batches), device, warmup, repeats)


def peak_training_memory(model, batch: Batch, pad: int, device: torch.device, dtype: str) -> int:
    """Bytes at the peak of one training step on the largest batch, parameters and Adam included."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    optimizer.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        with _autocast(device, dtype):
            loss = _loss(model, batch, pad)
        loss.backward()
        optimizer.step()
        return torch.cuda.max_memory_allocated(device)
    from torch.profiler import ProfilerActivity, profile

    # CPU: the allocator's live bytes over the step, from the profiler's memory events
    # (parameters exist before it starts; gradients and Adam's state are allocated inside).
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        with _autocast(device, dtype):
            loss = _loss(model, batch, pad)
        loss.backward()
        optimizer.step()
    events = sorted(
        (e.start_ns(), e.nbytes())
        for e in profiler.profiler.kineto_results.events()
        if e.name() == "[memory]"
    )
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak + sum(p.numel() * p.element_size() for p in model.parameters())


def generate_sentences_per_second(model, batches, d, device, dtype, warmup: int, repeats: int) -> float:
    """Beam search with incremental decoding; every hypothesis gets exactly as many steps as its
    batch's longest source, so both models do the same work whatever they predict."""
    from fairseq.sequence_generator import SequenceGenerator

    model.eval()

    def run(batch: Batch) -> None:
        steps = int(batch.src_lengths.max())
        generator = SequenceGenerator([model], d, beam_size=BEAM, max_len_a=0, max_len_b=steps, min_len=steps)
        sample = {"net_input": {"src_tokens": batch.src_tokens, "src_lengths": batch.src_lengths}}
        with torch.no_grad(), _autocast(device, dtype):
            generator.generate([model], sample)

    return _median_rate(run, batches, sum(len(b.src_lengths) for b in batches), device, warmup, repeats)


@dataclass
class Figures:
    train_tokens_per_s: float
    peak_memory_mb: float
    generate_sentences_per_s: float


def bench(
    size: str,
    *,
    device: str | None = None,
    dtype: str = "fp32",
    corpus: Path | None = None,
    train_batches: int = 6,
    generate_batches: int = 4,
    repeats: int = 3,
    seed: int = 1,
) -> Dict:
    """Figures of vanilla and EA side by side, and their ratios (EA / vanilla; > 1: EA costlier)."""
    from evo_mt_cli.translator import resolve_device

    if size not in SIZES:
        raise UserError(f"--size must be one of {', '.join(SIZES)}, not {size!r}")
    target = resolve_device(device)
    if dtype not in ("fp32", "fp16", "bf16"):
        raise UserError(f"--dtype must be fp32, fp16 or bf16, not {dtype!r}")
    if dtype == "fp16" and target.type != "cuda":
        raise UserError("--dtype fp16 needs a CUDA device (use bf16 on CPU)")
    d = dictionary()
    lengths = sentence_lengths(4000, corpus, seed)
    train = [b.to(target) for b in spread(make_batches(lengths, d, MAX_TOKENS, seed), train_batches)]
    generate = [
        b.to(target) for b in spread(make_batches(lengths, d, MAX_TOKENS, seed, 64), generate_batches)
    ]
    largest = max(train, key=lambda b: b.src_tokens.numel())

    figures: Dict[str, Figures] = {}
    for name, vanilla in (("vanilla", True), ("ea", False)):
        model = build_model(SIZES[size], d, vanilla=vanilla, seed=seed).to(target)
        figures[name] = Figures(
            train_tokens_per_s=train_tokens_per_second(model, train, d.pad(), target, dtype, 2, repeats),
            peak_memory_mb=peak_training_memory(model, largest, d.pad(), target, dtype) / 2**20,
            generate_sentences_per_s=generate_sentences_per_second(
                model, generate, d, target, dtype, 1, repeats
            ),
        )
        del model
    van, ea = figures["vanilla"], figures["ea"]
    return {
        "size": size,
        "device": _describe(target),
        "dtype": dtype,
        "threads": torch.get_num_threads(),
        "batches": {"train": len(train), "generate": len(generate), "max_tokens": MAX_TOKENS, "beam": BEAM},
        "vanilla": asdict(van),
        "ea": asdict(ea),
        "train_time_ratio": van.train_tokens_per_s / ea.train_tokens_per_s,
        "generate_time_ratio": van.generate_sentences_per_s / ea.generate_sentences_per_s,
        "peak_memory_ratio": ea.peak_memory_mb / van.peak_memory_mb,
    }


def _describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def table(report: Dict) -> str:
    rows: List[Tuple[str, str, str, str]] = [
        ("train tokens/s", "train_tokens_per_s", "train_time_ratio", "{:,.0f}"),
        ("peak memory MiB", "peak_memory_mb", "peak_memory_ratio", "{:,.1f}"),
        (f"beam-{BEAM} sentences/s", "generate_sentences_per_s", "generate_time_ratio", "{:,.1f}"),
    ]
    lines = [
        f"evo-mt bench: size {report['size']}, {report['device']}, {report['dtype']}",
        f"{'':22}{'vanilla':>12}{'EA':>12}{'EA / vanilla':>16}",
    ]
    for label, key, ratio, fmt in rows:
        lines.append(
            f"{label:22}{fmt.format(report['vanilla'][key]):>12}{fmt.format(report['ea'][key]):>12}"
            f"{report[ratio]:>15.3f}x"
        )
    lines.append("(ratios of cost: time per token or sentence, and memory; above 1 means EA costs more)")
    return "\n".join(lines)


def translation_speed(run_folder: Path, lines_file: Path, beam: int = BEAM, repeats: int = 2) -> Dict:
    """Whole-process sentences/s of `evo-mt translate` and `fairseq-interactive` on one input."""
    import subprocess
    import sys

    from evo_mt_cli.training import USER_DIR
    from evo_mt_cli.translator import MAX_LEN_A, MAX_LEN_B, find_checkpoint

    run, checkpoint = find_checkpoint(run_folder)
    recipe = run.recipe()
    try:
        count = len(lines_file.read_text(encoding="utf-8").splitlines())
    except OSError as error:
        raise UserError(f"--input {lines_file}: {error.strerror}") from error
    interactive = [
        sys.executable, "-m", "fairseq_cli.interactive", str(run.data_bin), "--user-dir", USER_DIR,
        "--path", str(checkpoint),
        "--source-lang", recipe.source_lang, "--target-lang", recipe.target_lang,
        "--bpe", "sentencepiece", "--sentencepiece-model", str(run.sentencepiece), "--beam", str(beam),
        "--max-len-a", str(MAX_LEN_A), "--max-len-b", str(MAX_LEN_B),
    ]  # fmt: skip
    # fairseq-interactive translates one line at a time unless told to buffer; both ways are
    # timed, since the default is how it is usually run and the buffered one is its best.
    commands = {
        "evo_mt_translate": [
            sys.executable, "-m", "evo_mt_cli.app", "translate", str(checkpoint), "--beam", str(beam),
        ],
        "fairseq_interactive": interactive,
        "fairseq_interactive_batched": [*interactive, "--buffer-size", "1024", "--batch-size", "64"],
    }  # fmt: skip
    rates = {}
    for name, command in commands.items():
        times = []
        for _ in range(repeats):
            with open(lines_file, "rb") as stdin:
                start = time.perf_counter()
                done = subprocess.run(command, stdin=stdin, capture_output=True, text=True)
                times.append(time.perf_counter() - start)
            if done.returncode != 0:
                raise UserError(f"{name} failed: {done.stderr.strip().splitlines()[-1:]}")
        rates[name] = count / statistics.median(times)
    return {
        "sentences": count,
        "beam": beam,
        "sentences_per_s": rates,
        "speedup": rates["evo_mt_translate"] / rates["fairseq_interactive"],
        "speedup_vs_batched": rates["evo_mt_translate"] / rates["fairseq_interactive_batched"],
    }
