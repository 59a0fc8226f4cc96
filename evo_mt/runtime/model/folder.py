"""The exported model folder, its format defined in this one place.

    <folder>/
      manifest.json        format name and version, what the model is, how to decode, and the
                           sha256 and size of every other file
      encoder.onnx         source tokens -> source padding, each decoder layer's cross keys/values
      decoder.onnx         one decoding step: last tokens and the cached state -> log-probs,
                           beam search's candidates, the cross-attention that aligns, and
                           the state after the step
      sentencepiece.model  the run's sentencepiece model
      dict.source.txt      fairseq's dictionaries (evo_mt.runtime.base.vocabulary reads them)
      dict.target.txt
      shortlist.tsv        optional (`evo-mt export --shortlist`): the vocabulary map whose
                           allowed pieces a step scores (evo_mt.runtime.model.shortlist); the decoder
                           then has a VOCABULARY input

The graphs' inputs and outputs are named here too: the exporter writes these names and the
runtime reads them, so neither restates the other. Every file is checked against the
manifest when a folder is opened: a missing, extra, truncated or changed file, or a folder
of another format or version, is refused in one line naming the folder and the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable

from evo_mt.runtime.base.errors import UserError
from evo_mt.runtime.base.files import digest

FORMAT = "evo-mt-onnx"
# 2: the self-attention's keys and values in tables that a step gathers from by HISTORY;
# 3: the decoder also chooses beam search's candidates (SCORES, ONLY_EOS, NO_EOS, CANDIDATES);
# 4: the decoder also returns a layer's cross-attention (ATTENTION), for alignments.
VERSION = 4
MANIFEST = "manifest.json"
ENCODER = "encoder.onnx"
DECODER = "decoder.onnx"
SENTENCEPIECE = "sentencepiece.model"
SOURCE_DICTIONARY = "dict.source.txt"
TARGET_DICTIONARY = "dict.target.txt"
FILES = (ENCODER, DECODER, SENTENCEPIECE, SOURCE_DICTIONARY, TARGET_DICTIONARY)
SHORTLIST = "shortlist.tsv"
OPTIONAL_FILES = (SHORTLIST,)

# Graph inputs and outputs. Cached state is named "<kind>.<layer>"; the decoder returns each
# one under "next_<kind>.<layer>". Per-sentence state is shared by a sentence's hypotheses.
SOURCE_TOKENS = "source_tokens"  # (sentences, source_length) int64, left-padded
SOURCE_PADDING = "source_padding"  # (sentences, source_length) bool
LAST_TOKENS = "last_tokens"  # (hypotheses,) int64
STEP = "step"  # (1,) int64: how many target tokens came before
# (hypotheses,) int64: the rows of the cached per-hypothesis state that the hypotheses of
# this step continue (beam search's choice, and the sentences still decoding), in order.
REORDER = "reorder"
# (hypotheses, steps) int64: the row of TABLES that each earlier step of each hypothesis
# wrote (a cache indirection: beam search's choices reorder this, not the tables).
HISTORY = "history"
# beam search's choice of candidates (evo_mt.runtime.search.beam_search), made in the graph:
SCORES = "scores"  # (hypotheses,) float32: each hypothesis's score so far
ONLY_EOS = "only_eos"  # (hypotheses,) bool: at the length limit, only </s> may follow
NO_EOS = "no_eos"  # (hypotheses,) bool: too short to end
CANDIDATES = "candidates"  # () int64: how many candidates each sentence gets
# (vocabulary,) int64, sorted, the specials first: the target indices a step scores, in a
# folder with a SHORTLIST; log_probs and the candidates' tokens are then columns of it.
VOCABULARY = "vocabulary"
LOG_PROBS = "log_probs"  # (hypotheses, target vocabulary) float32
# (sentences, candidates): the best candidates of each sentence, best first (equal scores:
# the lower hypothesis x vocabulary index first); their score, token and hypothesis.
CANDIDATE_SCORES, CANDIDATE_TOKENS = "candidate_scores", "candidate_tokens"
CANDIDATE_BEAMS = "candidate_beams"
STEP_OUTPUTS = (LOG_PROBS, CANDIDATE_SCORES, CANDIDATE_TOKENS, CANDIDATE_BEAMS)  # then ATTENTION
# (hypotheses, source_length) float32: the cross-attention of the decoder layer that aligns
# (evo_mt.inference.transformer.ALIGNMENT_LAYER), the mean of its heads; beam search leaves it
# unread, a forced pass reads it (OnnxModel.attention). Then the state.
ATTENTION = "attention"
PER_SENTENCE = ("cross_keys", "cross_values")  # (sentences, heads, source_length, head_dim)
# (heads, table rows, head_dim): the self-attention's keys (values) of every step so far,
# one row per hypothesis that a step decoded; the decoder returns its step's own (heads,
# hypotheses, 1, head_dim), which the runtime writes in place into the next free rows.
TABLES = ("keys", "values")
PER_HYPOTHESIS = (
    "decoder_rows",  # (hypotheses, heads, kernel - 1, steps): a convolving self-attention's rows
    "cross_rows",  # (hypotheses, heads, kernel - 1, source_length): a convolving cross-attention's
)
NEXT = "next_"
# Names of the dynamic axes, which say how the runtime makes the state before the first step.
SENTENCES, HYPOTHESES, SOURCE_LENGTH, STEPS = "sentences", "hypotheses", "source_length", "steps"
CACHED = "cached_hypotheses"  # the first axis of the per-hypothesis state given to a step
TABLE_ROWS = "table_rows"
ALLOWED = "allowed"  # the length of VOCABULARY


def state_name(kind: str, layer: int) -> str:
    return f"{kind}.{layer}"


def state_kind(name: str) -> str:
    return name.split(".", 1)[0]


class ModelFolderError(UserError):
    """An exported model folder that cannot be used; the message names the folder and the file."""


@dataclass(frozen=True)
class ModelFolder:
    """An opened, verified folder: its path and its manifest."""

    root: Path
    manifest: Dict[str, Any]

    def path(self, name: str) -> Path:
        return self.root / name

    def has(self, name: str) -> bool:
        """Whether the folder holds optional file `name` (verified with the others)."""
        return name in self.manifest["files"]

    @property
    def decoding(self) -> Dict[str, Any]:
        return self.manifest["decoding"]


def is_model_folder(path: Path | str) -> bool:
    """Whether `path` is meant as an exported folder (it holds a manifest), sound or not."""
    return (Path(path) / MANIFEST).is_file()


def write_manifest(root: Path, fields: Dict[str, Any], files: Iterable[str] = FILES) -> Dict[str, Any]:
    """Write manifest.json into `root`: `fields` plus the format and every file's hash and size."""
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        **fields,
        "files": {
            name: {"sha256": digest(root / name), "bytes": (root / name).stat().st_size} for name in files
        },
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def open_folder(path: Path | str) -> ModelFolder:
    """The folder at `path`, verified against its manifest; ModelFolderError if it is not sound."""
    root = Path(path)
    if not root.is_dir():
        raise ModelFolderError(f"{root}: no such folder")
    try:
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFolderError(
            f"{root}: not an exported model (no {MANIFEST}); see `evo-mt export`"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFolderError(f"{root / MANIFEST}: unreadable manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise ModelFolderError(f"{root / MANIFEST}: not an {FORMAT} manifest (format {found!r})")
    if manifest.get("version") != VERSION:
        raise ModelFolderError(
            f"{root / MANIFEST}: format version {manifest.get('version')!r}; this evo-mt reads version "
            f"{VERSION} (export the model again with this evo-mt)"
        )
    listed = manifest.get("files")
    if not isinstance(listed, dict) or not set(FILES) <= set(listed) <= {*FILES, *OPTIONAL_FILES}:
        raise ModelFolderError(f"{root / MANIFEST}: its file list is not that of format version {VERSION}")
    extra = sorted(p.name for p in root.iterdir() if p.name not in listed and p.name != MANIFEST)
    if extra:
        raise ModelFolderError(f"{root / extra[0]}: not part of the exported model (not in {MANIFEST})")
    for name, expected in listed.items():
        file = root / name
        if not file.is_file():
            raise ModelFolderError(f"{file}: missing from the exported model")
        if file.stat().st_size != expected.get("bytes"):
            raise ModelFolderError(
                f"{file}: {file.stat().st_size} bytes, the manifest says {expected.get('bytes')} "
                "(truncated or replaced)"
            )
        if digest(file) != expected.get("sha256"):
            raise ModelFolderError(f"{file}: its sha256 differs from the manifest's (the file was changed)")
    return ModelFolder(root, manifest)
