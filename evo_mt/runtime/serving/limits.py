"""The server's limits: what one request may ask, how much may wait, how batches are cut."""

from dataclasses import asdict, dataclass
from typing import Dict

from evo_mt.runtime.errors import OptionError
from evo_mt.runtime.text import BATCH_SIZE, MAX_TOKENS


@dataclass(frozen=True)
class Limits:
    """Every bound the server enforces; each field is also an `evo-mt serve` option."""

    max_lines: int = 256  # lines in one request
    max_chars: int = 4096  # characters in one line
    max_body_bytes: int = 1 << 20  # bytes in one request body
    max_beam: int = 16  # largest beam a request may ask for
    max_queued_lines: int = 4096  # lines waiting to be translated, all requests together
    batch_size: int = BATCH_SIZE  # lines in one batch (as `evo-mt translate --batch-size`)
    max_tokens: int = MAX_TOKENS  # padded subword tokens in one batch (as `evo-mt translate`)
    max_wait_ms: float = 10.0  # how long the oldest waiting line may wait for company

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name == "max_wait_ms":
                if value < 0:
                    raise OptionError(name, f"must not be negative, not {value}")
            elif value < 1:
                raise OptionError(name, f"must be at least 1, not {value}")

    def as_dict(self) -> Dict[str, float]:
        return asdict(self)
