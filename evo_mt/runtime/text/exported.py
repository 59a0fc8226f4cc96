"""Translating with an exported model folder on ONNX Runtime: no torch, no fairseq.

    translator = ExportedTranslator.load("model/")
    translator.translate(["a line", "another"])   # -> [["its translation"], [...]]

The folder is verified against its manifest first (evo_mt.runtime.model.folder); beam
size, length penalty and the length limit default to the settings it was exported with.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Dict, List, Sequence

import numpy as np

from evo_mt.runtime.base.vocabulary import Vocabulary
from evo_mt.runtime.model.folder import (
    SENTENCEPIECE,
    SHORTLIST,
    SOURCE_DICTIONARY,
    TARGET_DICTIONARY,
    ModelFolder,
    open_folder,
)
from evo_mt.runtime.model.shortlist import Shortlist, searched
from evo_mt.runtime.search.beam_search import beam_search
from evo_mt.runtime.search.decoding import Decoded, DecodingSettings, check_search
from evo_mt.runtime.text.translator import TextTranslator


class ExportedTranslator(TextTranslator):
    """An exported folder's model with its sentencepiece model and vocabularies."""

    aligns = True

    def __init__(
        self,
        folder: ModelFolder,
        *,
        beam: int | None = None,
        nbest: int = 1,
        lenpen: float | None = None,
        workers: int | None = None,
        threads: int | None = None,
        shortlist: bool = True,
    ) -> None:
        import sentencepiece as spm

        from evo_mt.runtime.model.sessions import OnnxModel, thread_layout

        exported = DecodingSettings(**folder.decoding)
        self.settings = dataclasses.replace(
            exported,
            beam=exported.beam if beam is None else beam,
            lenpen=exported.lenpen if lenpen is None else lenpen,
        )
        check_search(self.settings.beam, nbest)
        self.folder = folder
        self.beam, self.nbest = self.settings.beam, nbest
        self.workers, self.threads = thread_layout(workers, threads)
        self.model = OnnxModel(folder, self.threads)
        self.spm = spm.SentencePieceProcessor(model_file=str(folder.path(SENTENCEPIECE)))
        self.source = Vocabulary.load(folder.path(SOURCE_DICTIONARY))
        self.target = Vocabulary.load(folder.path(TARGET_DICTIONARY))
        self.max_source_pieces = int(folder.manifest["max_source_positions"]) - 1
        self.source_language = folder.manifest["languages"]["source"]
        self.max_target_positions = int(folder.manifest["max_target_positions"])
        # A folder exported with a vocabulary map scores each batch's allowed pieces only;
        # `shortlist=False` scores them all (to measure what the map costs).
        self.shortlist: Shortlist | None = None
        if shortlist and folder.has(SHORTLIST):
            self.shortlist = Shortlist.load(folder.path(SHORTLIST), self.source, self.target)

    @classmethod
    def load(cls, folder: Path | str, **options: Any) -> ExportedTranslator:
        """The translator of an exported folder; `options`: beam, nbest, lenpen, workers and
        threads (evo_mt.runtime.model.sessions.thread_layout), and shortlist (False: a folder's
        vocabulary map unused)."""
        return cls(open_folder(folder), **options)

    def training_source_pieces(self) -> Dict[str, int] | None:
        return self.folder.manifest.get("training_source_pieces")

    def source_indices(self, pieces: List[str]) -> List[int]:
        return self.source.encode(pieces)

    def target_indices(self, pieces: List[str]) -> List[int]:
        return self.target.encode(pieces)[:-1]

    def generate(
        self, sources: List[List[int]], constraints: Sequence[Sequence[Sequence[int]]] | None = None
    ) -> List[List[Decoded]]:
        lengths = self.settings.max_lengths(sources, self.max_target_positions, constraints)
        vocabulary = None
        if self.shortlist is not None:
            vocabulary = self.shortlist.allowed(sources, constraints)
        elif self.model.shortlisted:
            vocabulary = np.arange(len(self.target))
        decoding = self.model.start(sources, self.beam, vocabulary)
        found = searched(
            lambda required, continues_word: beam_search(
                decoding, lengths, beam=self.beam, lenpen=self.settings.lenpen, constraints=required,
                continues_word=continues_word,
            ),
            constraints, self.target.continues_word, vocabulary,
        )
        return [
            [Decoded(self.target.decode(h.tokens), h.score) for h in best[: self.nbest]] for best in found
        ]

    def attention(self, sources: List[List[int]], targets: List[List[int]]) -> List[np.ndarray]:
        return self.model.attention(sources, targets)

    def describe(self) -> Dict[str, Any]:
        manifest = self.folder.manifest
        options = manifest.get("options", {})
        return {
            "model": str(self.folder.root),
            "checkpoint": manifest["checkpoint"]["name"],
            "recipe": manifest.get("recipe"),
            "source_language": manifest["languages"]["source"],
            "target_language": manifest["languages"]["target"],
            "architecture": manifest.get("architecture"),
            "ea_options": {key: value for key, value in options.items() if key.startswith("ea_")},
            "device": "cpu",
            "engine": "onnxruntime",
            "quantize": manifest.get("quantize", "none"),
            "beam": self.beam,
            "workers": self.workers,
            "threads": self.threads,
            "max_source_pieces": self.max_source_pieces,
            "shortlist": manifest.get("shortlist") if self.shortlist is not None else None,
        }
