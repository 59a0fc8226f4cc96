"""The server's limits: what one request may ask, how much may wait, how batches are cut."""

from dataclasses import asdict, dataclass
from typing import Dict

from evo_mt.runtime.base.errors import OptionError
from evo_mt.runtime.text.batching import BATCH_SIZE, MAX_TOKENS


@dataclass(frozen=True)
class ServerLimits:
    """Every bound the server enforces; each field is also an `evo-mt serve` option."""

    max_lines: int = 256  # lines in one request
    max_chars: int = 4096  # characters in one line
    max_body_bytes: int = 1 << 20  # bytes in one request body
    max_file_bytes: int = 16 << 20  # bytes of one upload to /translate_file (the document and its form)
    max_beam: int = 16  # largest beam a request may ask for
    max_queued_sentences: int = 4096  # sentences waiting to be translated, all requests together
    batch_size: int = BATCH_SIZE  # lines in one batch (as `evo-mt translate --batch-size`)
    max_tokens: int = MAX_TOKENS  # padded subword tokens in one batch (as `evo-mt translate`)
    max_wait_ms: float = 10.0  # how long the oldest waiting line may wait for company
    cache_size: int = 10000  # units (sentences) whose translations are kept; 0: no cache

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name in ("max_wait_ms", "cache_size"):
                if value < 0:
                    raise OptionError(name, f"must not be negative, not {value}")
            elif value < 1:
                raise OptionError(name, f"must be at least 1, not {value}")

    def check_beam(self, beam: int) -> None:
        """Refuse a default beam that requests could not ask for themselves."""
        if beam > self.max_beam:
            raise OptionError(
                "max_beam", f"{self.max_beam} is smaller than the beam {beam}; raise it or lower the beam"
            )

    def as_dict(self) -> Dict[str, float]:
        return asdict(self)
