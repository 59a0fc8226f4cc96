"""Synthetic batches for the cost benchmark, built the way fairseq builds real ones.

Sentences are random token ids with lengths drawn like IWSLT'14's subword lengths, or taken
from a corpus file; batches are sorted by length and filled up to a number of tokens.
"""

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import List

import torch

from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.base.lines import split_lines

VOCAB = 10_000  # joint subword vocabulary, as in the IWSLT'14 recipe
MAX_TOKENS = 4096  # per batch, padding included


def dictionary(size: int = VOCAB):
    """A fairseq dictionary of `size` symbols (specials included), for random token ids."""
    from fairseq.data import Dictionary

    d = Dictionary()
    for i in range(size - d.nspecial):
        d.add_symbol(f"w{i}")
    return d


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
            lines = split_lines(Path(corpus).read_text(encoding="utf-8", errors="replace"))
        except OSError as error:
            raise OptionError("corpus", f"{corpus}: {error.strerror}") from error
        # ~1.3 subwords per whitespace word for a joint 10k sentencepiece model.
        lengths = [min(175, max(2, round(1.3 * len(line.split())) + 1)) for line in lines if line.strip()]
        if not lengths:
            raise OptionError("corpus", f"{corpus}: no sentences in it")
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
        raise OptionError("batches", "to time must be at least 1")
    if len(batches) <= count:
        return batches
    if count == 1:
        return [batches[len(batches) // 2]]
    return [batches[round(i * (len(batches) - 1) / (count - 1))] for i in range(count)]


