"""The activation functions, as torch functions, under the names the model's options use.

Both tables are keyed by the names in evo_mt.architecture.options, so that every engine
computes the same function for a name: the fairseq plugin builds its feed-forward layers with
fairseq's own `get_activation_fn`, which these match (tests/test_activations.py trains with
each and compares the engines).
"""

from typing import Callable, Dict

import torch
import torch.nn.functional as F
from torch import Tensor


def _identity(x: Tensor) -> Tensor:
    return x


def _gelu(x: Tensor) -> Tensor:
    # fairseq computes GELU in float32 whatever the input's precision.
    return F.gelu(x.float()).type_as(x)


def _gelu_tanh(x: Tensor) -> Tensor:
    # fairseq's gelu_accurate is GELU's tanh approximation (Hendrycks & Gimpel, 2016).
    return F.gelu(x, approximate="tanh")


# --activation-fn; gelu_fast is fairseq's deprecated name for gelu_accurate.
FEED_FORWARD: Dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu, "gelu": _gelu, "gelu_fast": _gelu_tanh, "gelu_accurate": _gelu_tanh,
    "tanh": torch.tanh, "linear": _identity,
}
# --ea-activation: applied to the convolution over the attention maps.
CONVOLUTION: Dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu, "leaky_relu": F.leaky_relu, "gelu": F.gelu, "tanh": torch.tanh, "linear": _identity,
}
