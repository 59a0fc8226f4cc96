"""Recipes: one folder per recipe with one `recipe.toml`, validated on load.

A recipe names its corpus and how to clean, split and encode it, and the fairseq training
options of its model. Unknown keys and wrong types are named in the error.
"""

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import tomllib

from evo_mt.runtime.base.errors import OptionError, UserError
from evo_mt.runtime.search.decoding import DecodingSettings

RECIPE_FILE = "recipe.toml"
PROJECT_RECIPES = Path(__file__).resolve().parents[2] / "recipes"

Scalar = Union[str, int, float, bool]


@dataclass(frozen=True)
class CorpusConfig:
    name: str  # which reader obtains it: a key of evo_mt.pipeline.corpora.READERS
    lowercase: bool = False
    valid_every: int = 0  # take every n-th training pair out as validation (0: corpus gives valid)
    sentences: int = 0  # toy only: training pairs to generate
    seed: int = 1  # toy only


@dataclass(frozen=True)
class CleanConfig:
    """Applied to training (and split-off validation) pairs only, never to the test set."""

    min_tokens: int = 1
    max_tokens: int = 175
    max_ratio: float = 1.5


@dataclass(frozen=True)
class SubwordConfig:
    vocab_size: int = 8000
    model_type: str = "unigram"
    character_coverage: float = 1.0
    max_sentences: int = 2_000_000  # sentences sampled to train sentencepiece


@dataclass(frozen=True)
class ScoreConfig:
    """How the run's model decodes (for score, translate and serve alike) and scores."""

    beam: int = DecodingSettings.beam
    lenpen: float = DecodingSettings.lenpen
    batch_size: int = 128

    def decoding(self) -> DecodingSettings:
        return DecodingSettings(beam=self.beam, lenpen=self.lenpen)


@dataclass(frozen=True)
class Recipe:
    name: str
    source_lang: str
    target_lang: str
    corpus: CorpusConfig
    folder: Path
    clean: CleanConfig = CleanConfig()
    subwords: SubwordConfig = SubwordConfig()
    score: ScoreConfig = ScoreConfig()
    average_last: int = 5
    train: Dict[str, Scalar] = field(default_factory=dict)  # fairseq-train options

    @property
    def languages(self) -> Tuple[str, str]:
        return (self.source_lang, self.target_lang)

    def train_arguments(self) -> List[str]:
        """The `train` table as fairseq-train flags (true: a bare flag, false: omitted)."""
        return options_to_flags(self.train)


def options_to_flags(options: Dict[str, Any]) -> List[str]:
    flags: List[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is not False:
            flags += [flag, str(value)]
    return flags


_PLAIN = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _check(value: Any, expected: Any, where: str) -> Any:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected in _PLAIN:
        if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
            return value
        raise UserError(f"{where} must be {_PLAIN[expected]}, not {value!r}")
    if expected == Dict[str, Scalar]:
        if not isinstance(value, dict):
            raise UserError(f"{where} must be a table")
        for key, item in value.items():
            if not isinstance(item, (str, int, float, bool)):
                raise UserError(f"{where}.{key} must be a string, number or true/false")
        return dict(value)
    return _build(expected, value, where)


def _build(cls: Any, table: Any, where: str) -> Any:
    if not isinstance(table, dict):
        raise UserError(f"{where} must be a table")
    known = {f.name: f for f in dataclasses.fields(cls) if f.name != "folder"}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(known)})")
    values = {}
    for name, spec in known.items():
        if name in table:
            values[name] = _check(table[name], spec.type, f"{where}.{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise UserError(f"{where}: missing key {name!r}")
    return values


def find_recipe(spec: Union[str, Path]) -> Path:
    """A recipe folder from a path, or from a name looked up in the project's recipes/."""
    candidates = [Path(spec), PROJECT_RECIPES / str(spec)]
    for folder in candidates:
        if (folder / RECIPE_FILE).is_file():
            return folder.resolve()
    known = sorted(p.parent.name for p in PROJECT_RECIPES.glob(f"*/{RECIPE_FILE}"))
    if Path(spec).is_dir():
        raise UserError(f"{spec}: no {RECIPE_FILE} in this folder, so it is not a recipe")
    if Path(spec).exists() or "/" in str(spec):
        what = "a file, not a recipe folder" if Path(spec).exists() else "no such recipe folder"
        raise UserError(f"{spec}: {what} (project recipes: {', '.join(known)})")
    raise UserError(f"unknown recipe {str(spec)!r}: no {RECIPE_FILE} there (known: {', '.join(known)})")


def load_recipe(spec: Union[str, Path]) -> Recipe:
    folder = find_recipe(spec)
    path = folder / RECIPE_FILE
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{path}: not valid TOML: {error}") from error
    values = _build(Recipe, table, str(path))
    for name, cls in [("corpus", CorpusConfig), ("clean", CleanConfig), ("subwords", SubwordConfig)]:
        if name in values:
            values[name] = cls(**values[name])
    if "score" in values:
        values["score"] = ScoreConfig(**values["score"])
        try:
            values["score"].decoding()
        except OptionError as error:
            raise UserError(f"{path}: score.{error}") from None
        if values["score"].batch_size < 1:
            raise UserError(f"{path}: score.batch_size must be at least 1, not {values['score'].batch_size}")
    return Recipe(folder=folder, **values)
