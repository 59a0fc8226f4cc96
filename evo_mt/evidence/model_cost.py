"""The cost benchmark: what evolving attention costs, side by side with fairseq's Transformer.

Both models have the same dimensions, get the same batches and run in the same process:
a training step (forward, backward, Adam), the peak memory of that step, and beam search
with incremental decoding. Each figure is the median over repetitions, after a warm-up.
"""

import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import torch

from evo_mt.evidence.batches import MAX_TOKENS, dictionary, make_batches, sentence_lengths, spread
from evo_mt.evidence.measures import (
    BEAM,
    generate_sentences_per_second,
    peak_training_memory,
    train_tokens_per_second,
)
from evo_mt.models.factory import build_model
from evo_mt.pipeline.translation import resolve_device
from evo_mt.runtime.base.errors import OptionError

# name -> (architecture, options over it). "small" is the model of the toy and gettext_en_de
# recipes: the tiny architecture at width 128.
_SMALL = {"encoder_embed_dim": 128, "decoder_embed_dim": 128, "encoder_ffn_embed_dim": 256,
          "decoder_ffn_embed_dim": 256}
SIZES: Dict[str, Tuple[str, Dict[str, int]]] = {
    "tiny": ("ea_transformer_tiny", {}),
    "small": ("ea_transformer_tiny", _SMALL),
    "iwslt_de_en": ("ea_transformer_iwslt_de_en", {}),
    "wmt_en_de": ("ea_transformer_wmt_en_de", {}),
    "big": ("ea_transformer_vaswani_wmt_en_de_big", {}),
}
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
    if size not in SIZES:
        raise OptionError("size", f"must be one of {', '.join(SIZES)}, not {size!r}")
    target = resolve_device(device)
    if dtype not in ("fp32", "fp16", "bf16"):
        raise OptionError("dtype", f"must be fp32, fp16 or bf16, not {dtype!r}")
    if dtype == "fp16" and target.type != "cuda":
        raise OptionError("dtype", "fp16 needs a CUDA device (use bf16 on CPU)")
    d = dictionary()
    lengths = sentence_lengths(4000, corpus, seed)
    train = [b.to(target) for b in spread(make_batches(lengths, d, MAX_TOKENS, seed), train_batches)]
    generate = [
        b.to(target) for b in spread(make_batches(lengths, d, MAX_TOKENS, seed, 64), generate_batches)
    ]
    largest = max(train, key=lambda b: b.src_tokens.numel())

    arch, options = SIZES[size]
    names = ("vanilla", "ea")
    models = [build_model(arch, d, vanilla=name == "vanilla", seed=seed, **options) for name in names]
    peaks = []
    for model in models:  # one model at a time on the device: its peak is its own
        peaks.append(peak_training_memory(model.to(target), largest, d.pad(), target, dtype) / 2**20)
        model.cpu()
    models = [model.to(target) for model in models]
    # Both models in one process, their repetitions alternating (measures._median_rates).
    train_rates = train_tokens_per_second(models, train, d.pad(), target, dtype, 2, repeats)
    generate_rates = generate_sentences_per_second(models, generate, d, target, dtype, 1, repeats)
    del models
    van, ea = (
        Figures(train_tokens_per_s=rates[0], peak_memory_mb=rates[1], generate_sentences_per_s=rates[2])
        for rates in zip(train_rates, peaks, generate_rates, strict=True)
    )
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


