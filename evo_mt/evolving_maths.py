"""The maths of evolving attention as pure functions of tensors: no fairseq object needed.

Maps are (batch, heads, T_query, T_key). Which entries are masked is worked out from the
masks the caller was given (key padding, attention mask, padded queries), never from the
values in a map, so finite masking values (fairseq's -1e8 / -1e4) are recognised as well as
-inf, and a call without masks costs no pass over the map.
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from evo_mt.activations import CONVOLUTION


def _widened(mask: Tensor, src_len: int) -> Tensor:
    # fairseq appends unmasked key columns (add_bias_kv, add_zero_attn) after the caller's mask.
    extra = src_len - mask.size(-1)
    return F.pad(mask, (0, extra), value=False) if extra > 0 else mask


def masked_entries(
    src_len: int,
    key_padding_mask: Tensor | None = None,
    attn_mask: Tensor | None = None,
    query_padding: Tensor | None = None,
) -> Tensor | None:
    """Where the map is masked, as a bool tensor broadcastable to (batch, heads, T_query, T_key).

    `key_padding_mask` (batch, T_key) and `query_padding` (batch, T_query) are True at padding;
    `attn_mask` (T_query, T_key) is fairseq's binary mask, bool or float (0 = allowed; any
    other value, -inf or fairseq's finite -1e8 / -1e4, masks the entry). None: nothing masked.
    """
    masked: Tensor | None = None
    if attn_mask is not None:
        allowed = ~attn_mask if attn_mask.dtype == torch.bool else attn_mask == 0
        masked = _widened(~allowed, src_len).view(1, 1, allowed.size(0), src_len)
    if key_padding_mask is not None:
        keys = _widened(key_padding_mask.bool(), src_len)
        keys = keys.view(keys.size(0), 1, 1, src_len)
        masked = keys if masked is None else masked | keys
    if query_padding is not None:
        queries = query_padding.bool().view(query_padding.size(0), 1, query_padding.size(1), 1)
        masked = queries if masked is None else masked | queries
    return masked


def mix(scores: Tensor, previous: Tensor | None, alpha: float) -> Tensor:
    """M_l = alpha * A_{l-1} + (1 - alpha) * S_l; S_l alone when nothing was handed on."""
    if previous is None or alpha == 0.0:
        return scores
    return torch.lerp(scores, previous, alpha)  # one pass over the map instead of three


def window(rows_above: Tensor, mixed: Tensor) -> Tensor:
    """The convolution's input rows in incremental decoding: the cached rows, then this step's.

    A step decodes one query row. Self-attention's keys grow by one per step, so its cached
    rows are one column short of `mixed`: they are zero-padded by that column. (A constant
    width keeps an exported graph's padding one node; see evo_mt.export.)
    """
    if mixed.size(-1) > rows_above.size(-1):
        rows_above = F.pad(rows_above, (0, 1))
    return torch.cat([rows_above, mixed], dim=2)


def convolve(
    mixed: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    *,
    beta: float,
    activation: str,
    causal: bool,
    rows: Tensor | None = None,
) -> Tensor:
    """A_l = beta * act(Conv_l(M_l)) + (1 - beta) * M_l, keeping M_l's shape.

    The key axis is zero-padded on both sides. The query axis is centred, or causal (padded
    above only, so a row reads itself and earlier rows). `rows`, the `window` of incremental
    decoding (k - 1 cached rows above M_l's), replaces the causal zero padding.
    """
    k = weight.size(-1)
    half = k // 2
    if rows is not None and rows.size(2) == k and torch.onnx.is_in_onnx_export():
        # ONNX Runtime's Conv takes the k rows as they are: no reshapes in the step's graph.
        convolved = F.conv2d(rows, weight, bias, padding=(0, half))
    elif rows is not None and rows.size(2) == k:
        # One query row: (heads, k rows) as the channels of a 1-D convolution along the keys,
        # the same sums without a 2-D convolution's set-up for a single output row.
        convolved = F.conv1d(rows.flatten(1, 2), weight.flatten(1, 2), bias, padding=half).unsqueeze(2)
    else:
        source = mixed if rows is None else rows
        if mixed.device.type == "cpu":
            # oneDNN's convolution over few channels runs about twice as fast, backward
            # included, with the heads innermost.
            source = source.contiguous(memory_format=torch.channels_last)
        # Padding inside the convolution, not a padded copy; a causal one pads k - 1 rows on
        # both sides and keeps the first rows, the cost of k - 1 extra output rows.
        above = 0 if rows is not None else (k - 1 if causal else half)
        convolved = F.conv2d(source, weight, bias, padding=(above, half))[:, :, : mixed.size(2)]
    return torch.lerp(mixed, CONVOLUTION[activation](convolved), beta)


def probabilities(evolved: Tensor, masked: Tensor | None) -> Tensor:
    """P_l = softmax over keys of A_l with masked entries excluded, in float32 or wider.

    A row whose keys are all masked (a padded query of a left-padded target, say) gets zero
    probabilities, as torch's own attention gives, instead of NaN.
    """
    logits = evolved.float() if evolved.dtype in (torch.float16, torch.bfloat16) else evolved
    if masked is None:
        return torch.softmax(logits, dim=-1)
    probs = torch.softmax(logits.masked_fill(masked, float("-inf")), dim=-1)
    empty = masked.all(dim=-1, keepdim=True)
    return probs.masked_fill(empty, 0.0) if bool(empty.any()) else probs


def handed_on(evolved: Tensor, masked: Tensor | None) -> Tensor:
    """What the next layer of the chain receives: A_l with every masked entry zero."""
    return evolved if masked is None else evolved.masked_fill(masked, 0.0)


def evolve(
    logits: Tensor,
    previous: Tensor | None,
    *,
    alpha: float,
    beta: float,
    weight: Tensor | None,
    bias: Tensor | None,
    activation: str,
    causal: bool,
    masked: Tensor | None,
    chain_masked: Tensor | None,
    rows_above: Tensor | None = None,
) -> Tuple[Tensor, Tensor, Tensor | None]:
    """One layer of a chain: (M_l, A_l, rows) from its logits S_l and the map A_{l-1} handed on.

    `logits` may hold anything at masked entries (fairseq's -inf among them): they are zeroed
    here, where `masked` says without a convolution, and wherever `chain_masked` says (padded
    queries too) with one, since masked M_l entries feed no convolution. `previous` is zero
    wherever `chain_masked` says (as `handed_on` makes it), so masking S_l before the mix
    masks M_l. `rows_above` (incremental decoding) are the k - 1 cached rows of masked M_l;
    `rows` are those of the next step, None when nothing is cached.
    """
    if weight is None:
        mixed = mix(handed_on(logits, masked), previous, alpha)
        return mixed, mixed, None
    mixed = mix(handed_on(logits, chain_masked), previous, alpha)
    rows = None if rows_above is None else window(rows_above, mixed)
    evolved = convolve(mixed, weight, bias, beta=beta, activation=activation, causal=causal, rows=rows)
    # A view of this step's rows (all but the oldest): the next step copies them into its window.
    return mixed, evolved, None if rows is None else rows[:, :, 1:]
