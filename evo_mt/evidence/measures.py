"""Timing and memory of models: a training step, its peak memory, and beam search.

Each rate is the median over repeated passes after a warm-up, so that a one-off stall on a
busy machine does not decide it.
"""

import statistics
import time
from contextlib import nullcontext
from typing import Callable, List

import torch
import torch.nn.functional as F

from evo_mt.evidence.batches import Batch

BEAM = 5


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


def _median_rates(works: List[Callable], batches: List[Batch], units: int, device, warmup: int, repeats: int):
    """Units per second of each of `works` over all batches: the median of `repeats` timed passes.

    The works' passes alternate, so that a change of load on a shared machine falls on each
    alike instead of on whichever happened to be timed then.
    """
    for work in works:
        for batch in batches[:warmup]:
            work(batch)
    rates: List[List[float]] = [[] for _ in works]
    for _ in range(repeats):
        for work, measured in zip(works, rates, strict=True):
            _sync(device)
            start = time.perf_counter()
            for batch in batches:
                work(batch)
            _sync(device)
            measured.append(units / (time.perf_counter() - start))
    return [statistics.median(measured) for measured in rates]


def train_tokens_per_second(models, batches, pad, device, dtype, warmup: int, repeats: int) -> List[float]:
    """Training tokens per second of each model (forward, backward, Adam), timed alternately."""

    def stepper(model) -> Callable[[Batch], None]:
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

        return step

    units = sum(b.target_tokens for b in batches)
    return _median_rates([stepper(m) for m in models], batches, units, device, warmup, repeats)


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


def generate_sentences_per_second(
    models, batches, d, device, dtype, warmup: int, repeats: int
) -> List[float]:
    """Beam search with incremental decoding, each model's passes timed alternately; every
    hypothesis gets exactly as many steps as its batch's longest source, so both models do the
    same work whatever they predict."""
    from fairseq.sequence_generator import SequenceGenerator

    def runner(model) -> Callable[[Batch], None]:
        model.eval()

        def run(batch: Batch) -> None:
            steps = int(batch.src_lengths.max())
            generator = SequenceGenerator(
                [model], d, beam_size=BEAM, max_len_a=0, max_len_b=steps, min_len=steps
            )
            sample = {"net_input": {"src_tokens": batch.src_tokens, "src_lengths": batch.src_lengths}}
            with torch.no_grad(), _autocast(device, dtype):
                generator.generate([model], sample)

        return run

    units = sum(len(b.src_lengths) for b in batches)
    return _median_rates([runner(m) for m in models], batches, units, device, warmup, repeats)
