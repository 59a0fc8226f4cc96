"""The deprecation warnings fairseq 0.12 and Hydra 1.3 raise on every run, silenced one by one.

Each filter names the warning's message and the module that raises it, so any other warning
(from our code, or a new one from these libraries) still shows.
"""

import warnings

# (message regex, category, module regex): what fairseq-train prints before its first update.
KNOWN = (
    # fairseq calls Hydra's pre-1.1 API and config layout.
    (r"hydra\.experimental\.initialize\(\) is no longer experimental", UserWarning, r"hydra\.experimental\."),
    (r"hydra\.experimental\.compose\(\) is no longer experimental", UserWarning, r"hydra\.experimental\."),
    (r"\s*The version_base parameter is not specified", UserWarning, r"hydra\.experimental\."),
    (r"In '\w+': Usage of deprecated keyword in package header", UserWarning, r"hydra\.core\."),
    (r"\s*'\w+' is validated against ConfigStore schema", UserWarning, r"__main__|runpy|hydra\."),
    (r"\s*The strict flag in the compose API is deprecated", UserWarning, r"hydra\.compose"),
    # fairseq's mixed-precision context, entered (disabled) even on CPU.
    (r"`torch\.cuda\.amp\.(autocast|GradScaler)\(args\.\.\.\)` is deprecated", FutureWarning, r"fairseq\."),
    # fairseq asks for pinned memory whatever the device; on CPU torch ignores it and says so.
    (r"'pin_memory' argument is set as true but no accelerator", UserWarning, r"torch\.utils\.data\."),
)


def silence_known_deprecations() -> None:
    """Install the filters of KNOWN in this process."""
    for message, category, module in KNOWN:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
