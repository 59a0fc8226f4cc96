"""An exported folder's two graphs on ONNX Runtime, and beam search's view of them.

The encoder graph runs once per batch; the decoder graph once per step, its cached state
fed back from the previous step's outputs, its self-attention's keys and values written
into tables that grow in place. Reordering the state after a step (the hypotheses beam
search keeps, the sentences still decoding) is numpy indexing of row numbers.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.base.vocabulary import EOS, PAD, SPECIALS
from evo_mt.runtime.model.folder import (
    ATTENTION,
    CACHED,
    CANDIDATES,
    DECODER,
    ENCODER,
    HISTORY,
    LAST_TOKENS,
    NEXT,
    NO_EOS,
    ONLY_EOS,
    PER_SENTENCE,
    REORDER,
    SCORES,
    SOURCE_LENGTH,
    SOURCE_PADDING,
    SOURCE_TOKENS,
    STEP,
    STEP_OUTPUTS,
    STEPS,
    TABLES,
    VOCABULARY,
    ModelFolder,
    state_kind,
)
from evo_mt.runtime.search.beam_search import StepLimits, candidate_count, candidates


def thread_layout(workers: int | None = None, threads: int | None = None) -> Tuple[int, int]:
    """(workers, threads): batches decoded at once, and ONNX Runtime's threads inside each.

    Their product is the machine's cores (or OMP_NUM_THREADS where it is set); by default
    all of them are workers of one thread each, CTranslate2's inter_threads: fastest at 1, 32
    and 1,000 lines on a 2-core machine (docs/export.md, "Workers and threads"). A toy step's
    operators are too small for threads inside one to pay, while two batches overlap one's
    numpy beam search with the other's graph."""
    for option, value in (("workers", workers), ("threads", threads)):
        if value is not None and value < 1:
            raise OptionError(option, f"must be at least 1, not {value}")
    budget = available_cores()
    if workers is None:
        workers = max(1, budget // (threads or 1))
    if threads is None:
        threads = max(1, budget // workers)
    return workers, threads


def available_cores() -> int:
    """The threads this process may keep busy: OMP_NUM_THREADS where it is set, else its cores."""
    if os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        return int(os.environ["OMP_NUM_THREADS"])
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def session_options(threads: int, level: str = "ORT_ENABLE_ALL"):
    """CPU settings: every optimisation (or those up to `level`), one stream of work,
    `threads` inside each operator."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, level)
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Shapes change at every step: ONNX Runtime's arena and memory patterns would keep the
    # largest of every size ever seen (hundreds of MiB); plain allocation keeps the peak low.
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    return options


class OnnxModel:
    """The encoder and decoder sessions of a folder: one pair, which several threads may run
    at once (ONNX Runtime's sessions are safe to share; each run keeps its own state)."""

    def __init__(self, folder: ModelFolder, threads: int = 1) -> None:
        import onnxruntime

        options = session_options(threads)
        providers = ["CPUExecutionProvider"]
        self.encoder = onnxruntime.InferenceSession(
            str(folder.path(ENCODER)), options, providers=providers
        )
        self.decoder = onnxruntime.InferenceSession(
            str(folder.path(DECODER)), options, providers=providers
        )
        self.encoder_outputs = [output.name for output in self.encoder.get_outputs()]
        self.decoder_outputs = [output.name for output in self.decoder.get_outputs()]
        # The state a step renews, by its input name.
        self.state_outputs = [
            name[len(NEXT) :] for name in self.decoder_outputs if name.startswith(NEXT)
        ]
        self.state_inputs = {item.name: item.shape for item in self.decoder.get_inputs() if "." in item.name}
        # The exporter leaves out an input the model never reads (`reorder` where no attention
        # convolves, so no rows are kept per hypothesis).
        self.decoder_inputs = {item.name for item in self.decoder.get_inputs()}
        self.shortlisted = VOCABULARY in self.decoder_inputs
        # Without a shortlist, the target vocabulary's size; with one, each batch's own.
        self.columns: int | str = self.decoder.get_outputs()[0].shape[1]

    def start(
        self, sources: Sequence[Sequence[int]], beam: int, vocabulary: np.ndarray | None = None
    ) -> Decoding:
        """The decoding of a batch of sources (indices ending in </s>), `beam` hypotheses each;
        a shortlisted graph's `vocabulary`, the target indices the batch may use (evo_mt.runtime.
        model.shortlist), whose columns beam search then chooses among."""
        if self.shortlisted != (vocabulary is not None):
            raise ValueError("a vocabulary is given exactly when the decoder graph has a shortlist")
        longest = max(len(source) for source in sources)
        tokens = np.full((len(sources), longest), PAD, dtype=np.int64)
        for row, source in enumerate(sources):  # left padding, as fairseq batches sources
            tokens[row, longest - len(source) :] = source
        encoded = dict(
            zip(self.encoder_outputs, self.encoder.run(None, {SOURCE_TOKENS: tokens}), strict=True)
        )
        # Before the first step a sentence's `beam` hypotheses are one and the same: the
        # first step runs one row per sentence (Decoding._sharing).
        sizes = {CACHED: len(sources), STEPS: 0, SOURCE_LENGTH: longest}
        per_sentence, tables, cached = {}, {}, {}
        for name, shape in self.state_inputs.items():
            kind = state_kind(name)
            if kind in PER_SENTENCE:
                per_sentence[name] = encoded[name]
            elif kind in TABLES:
                tables[name] = (shape[0], shape[2])  # heads, head_dim
            else:  # before the first step: convolution rows zero
                cached[name] = np.zeros([sizes[d] if isinstance(d, str) else d for d in shape], np.float32)
        return Decoding(self, encoded[SOURCE_PADDING], per_sentence, tables, cached, beam, vocabulary)

    def attention(
        self, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]
    ) -> List[np.ndarray]:
        """For each source and its translation (indices, each ending in </s>), the aligning
        layer's cross-attention as the decoder read it before each target token: (target
        tokens, source tokens). One forced pass: the translation's tokens are fed back, one
        row per sentence, whatever the model would have chosen."""
        vocabulary = None
        if self.shortlisted:  # the pieces fed back, the specials first, sorted
            fed = np.concatenate([np.asarray(target) for target in targets])
            vocabulary = np.union1d(np.arange(len(SPECIALS)), fed)
        decoding = self.start(sources, 1, vocabulary)
        last = np.full(len(sources), EOS, dtype=np.int64)
        rows = []
        for step in range(max(len(target) for target in targets)):
            rows.append(decoding.attention(last if vocabulary is None else np.searchsorted(vocabulary, last)))
            last = np.array([target[step] if step < len(target) else EOS for target in targets], np.int64)
        found, longest = np.stack(rows, axis=1), max(len(source) for source in sources)
        return [
            found[row, : len(target), longest - len(source) :]
            for row, (source, target) in enumerate(zip(sources, targets, strict=True))
        ]


class CacheTable:
    """One layer's self-attention keys (or values) of every step, (heads, rows, head_dim):
    step t's hypotheses own rows t x rows_per_step onwards. Rows are written once, in
    place, and never moved; the capacity doubles when a step finds it full."""

    def __init__(self, heads: int, head_dim: int, rows_per_step: int, steps: int = 16) -> None:
        self.rows_per_step = rows_per_step
        # Never zeroed: a step reads only rows written before it (`history`).
        self.array = np.empty((heads, steps * rows_per_step, head_dim), np.float32)

    def write(self, step: int, new: np.ndarray) -> None:
        """Store step `step`'s (heads, hypotheses, 1, head_dim)."""
        start = step * self.rows_per_step
        if start + self.rows_per_step > self.array.shape[1]:
            grown = np.empty((self.array.shape[0], 2 * self.array.shape[1], self.array.shape[2]), np.float32)
            grown[:, : self.array.shape[1]] = self.array
            self.array = grown
        self.array[:, start : start + new.shape[1]] = new[:, :, 0]


class Decoding:
    """The state of one batch's beam search over the decoder graph (evo_mt.runtime.search.beam_search).

    The per-hypothesis rows stay in ONNX Runtime's memory from one step to the next (IO
    binding) and the graph reorders them, by the rows `select` chose; the self-attention's
    past is read in place from the tables, by each hypothesis's `history` of table rows."""

    def __init__(
        self,
        model: OnnxModel,
        source_padding: np.ndarray,
        per_sentence: Dict[str, np.ndarray],
        tables: Dict[str, Tuple[int, int]],
        cached: Dict[str, Any],
        beam: int,
        vocabulary: np.ndarray | None = None,
    ) -> None:
        self.model = model
        self.beam = beam
        self.source_padding = source_padding
        self.per_sentence = per_sentence
        self.cached = cached  # numpy arrays before the first step, then ONNX Runtime's OrtValues
        rows = len(source_padding)
        self.rows_per_step = rows * beam  # the table rows a step may write
        self.tables = {name: CacheTable(*shape, self.rows_per_step) for name, shape in tables.items()}
        self.reorder = np.arange(rows)
        # Each row of the last step's output: the table rows of its steps so far.
        self.history = np.zeros((rows, 0), dtype=np.int64)
        self.steps = 0
        # A shortlist's target indices: beam search's tokens are its columns, the graph's
        # last tokens vocabulary indices.
        self.vocabulary = vocabulary

    def _sharing(self) -> int:
        """How many hypotheses one row of this step stands for: before the first step a
        sentence's `beam` hypotheses are one and the same, so the first step runs one row per
        sentence; every later step one row per hypothesis."""
        return self.beam if self.steps == 0 else 1

    def step(self, last_tokens: np.ndarray) -> np.ndarray:
        none = np.zeros(len(last_tokens), dtype=bool)
        limits = StepLimits(none, none)
        sharing = self._sharing()
        log_probs = self._run(last_tokens, np.zeros(len(last_tokens), np.float32), limits, 1)[0].numpy()
        return np.repeat(log_probs, sharing, axis=0) if sharing > 1 else log_probs

    def attention(self, last_tokens: np.ndarray) -> np.ndarray:
        """One step after `last_tokens`, chosen by the caller (a forced pass, beam 1): the
        aligning layer's cross-attention (hypotheses, source length)."""
        none = np.zeros(len(last_tokens), dtype=bool)
        scores = np.zeros(len(last_tokens), np.float32)
        return self._run(last_tokens, scores, StepLimits(none, none), 1, (ATTENTION,))[0].numpy()

    def step_candidates(
        self, last_tokens: np.ndarray, so_far: np.ndarray | None, limits: StepLimits, beam: int
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        sentences, sharing = len(self.source_padding), self._sharing()
        columns = self.model.columns if self.vocabulary is None else len(self.vocabulary)
        count = candidate_count(beam, len(last_tokens) // sharing // sentences * columns)
        scores = np.zeros(len(last_tokens), np.float32) if so_far is None else so_far
        log_probs, *choice = self._run(last_tokens, scores, limits, count)
        best, tokens, beams = (value.numpy() for value in choice)
        if np.isnan(best).any():  # a broken model's NaN, which the numpy search reads as -inf
            lprobs = limits.applied(np.repeat(log_probs.numpy(), sharing, axis=0))
            before = None if so_far is None else so_far.reshape(sentences, beam)
            return candidates(lprobs.reshape(sentences, beam, -1), before, beam)
        return best, tokens, beams

    def _run(
        self, last_tokens: np.ndarray, scores: np.ndarray, limits: StepLimits, count: int,
        returned: Sequence[str] = STEP_OUTPUTS,
    ) -> List[Any]:
        """One step of the graph: its log-probabilities and choice of candidates, or the
        outputs `returned` (OrtValues)."""
        hypotheses = len(last_tokens)
        only_eos, no_eos = limits.only_eos, limits.no_eos
        sharing = self._sharing()
        if sharing > 1:
            last_tokens, scores, only_eos, no_eos = (
                np.ascontiguousarray(value[::sharing]) for value in (last_tokens, scores, only_eos, no_eos)
            )
        binding = self.model.decoder.io_binding()
        history = self.history[self.reorder]
        inputs = {
            LAST_TOKENS: last_tokens if self.vocabulary is None else self.vocabulary[last_tokens],
            STEP: np.array([self.steps], dtype=np.int64),
            REORDER: self.reorder,
            HISTORY: history,
            SOURCE_PADDING: self.source_padding,
            SCORES: scores,
            ONLY_EOS: only_eos,
            NO_EOS: no_eos,
            CANDIDATES: np.array(count, dtype=np.int64),
            VOCABULARY: self.vocabulary,
            **self.per_sentence,
        }
        for name, value in inputs.items():
            if name in self.model.decoder_inputs:
                binding.bind_cpu_input(name, value)
        for name, table in self.tables.items():  # bound, as every numpy input, without a copy
            binding.bind_cpu_input(name, table.array)
        for name, value in self.cached.items():
            if isinstance(value, np.ndarray):
                binding.bind_cpu_input(name, value)
            else:
                binding.bind_ortvalue_input(name, value)
        for name in self.model.decoder_outputs:
            binding.bind_output(name, "cpu")
        self.model.decoder.run_with_iobinding(binding)
        outputs = dict(zip(self.model.decoder_outputs, binding.get_outputs(), strict=True))
        self.cached = {}
        for name in self.model.state_outputs:
            value = outputs[NEXT + name]
            if name in self.tables:
                self.tables[name].write(self.steps, value.numpy())
            else:
                self.cached[name] = value
        rows = len(last_tokens)
        written = self.steps * self.rows_per_step + np.arange(rows)
        self.history = np.concatenate([history, written[:, None]], axis=1)
        # Each hypothesis continues its own row, unless `select` chooses otherwise; after the
        # first step, a sentence's hypotheses share its one row.
        self.reorder = np.arange(hypotheses) // sharing
        self.steps += 1
        return [outputs[name] for name in returned]

    def select(self, hypotheses: np.ndarray, sentences: np.ndarray | None) -> None:
        self.reorder = self.reorder[hypotheses]
        if sentences is not None:
            self.per_sentence = {name: value[sentences] for name, value in self.per_sentence.items()}
            self.source_padding = self.source_padding[sentences]
