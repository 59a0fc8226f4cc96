"""The exported decoder chooses beam search's candidates itself (evo_mt.export.graphs._choice):
the same scores, tokens and hypotheses as the numpy search's `StepLimits.applied` + `candidates`,
equal scores included, on ONNX Runtime."""

import io
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from evo_mt.export.graphs import _choice
from evo_mt.runtime.search.beam_search import StepLimits, candidate_count, candidates

VOCABULARY = 9  # PAD (1) and EOS (2) among them


class Choice(torch.nn.Module):
    def forward(self, log_probs, scores, only_eos, no_eos, count, sentences):
        return _choice(log_probs, scores, only_eos, no_eos, count, sentences.size(0))


@pytest.fixture(scope="module")
def session():
    import onnxruntime

    example = (
        torch.randn(6, VOCABULARY), torch.randn(6), torch.zeros(6, dtype=torch.bool),
        torch.zeros(6, dtype=torch.bool), torch.tensor(4), torch.zeros(2),
    )
    names = ["log_probs", "scores", "only_eos", "no_eos", "count", "sentences"]
    graph = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Choice(), example, graph, dynamo=False, opset_version=17, input_names=names,
            dynamic_axes={name: {0: "rows"} for name in names[:4]} | {"sentences": {0: "sentences"}},
        )
    return onnxruntime.InferenceSession(graph.getvalue(), providers=["CPUExecutionProvider"])


@settings(max_examples=60, deadline=None)
@given(
    sentences=st.integers(1, 3),
    beam=st.integers(1, 4),
    first=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_the_graph_chooses_the_candidates_the_numpy_search_chooses(session, sentences, beam, first, seed):
    rng = np.random.default_rng(seed)
    rows = sentences * beam
    # Few distinct values, so that equal scores (and their order by index) are common.
    log_probs = rng.choice(np.float32([-0.5, -1.0, -2.25, -4.0]), size=(rows, VOCABULARY))
    so_far = None if first else rng.choice(np.float32([0.0, -1.0, -1.5]), size=rows)
    at_limit = np.repeat(rng.random(sentences) < 0.3, beam)  # a sentence's hypotheses alike
    limits = StepLimits(at_limit, ~at_limit if first else np.zeros(rows, dtype=bool))
    before = None if so_far is None else so_far.reshape(sentences, beam)
    expected = candidates(limits.applied(log_probs.copy()).reshape(sentences, beam, -1), before, beam)

    step_rows = slice(None, None, beam) if first else slice(None)  # the first step: one row each
    count = candidate_count(beam, (1 if first else beam) * VOCABULARY)
    got = session.run(None, {
        "log_probs": log_probs[step_rows],
        "scores": np.zeros(rows, np.float32)[step_rows] if so_far is None else so_far,
        "only_eos": limits.only_eos[step_rows], "no_eos": limits.no_eos[step_rows],
        "count": np.array(count), "sentences": np.zeros(sentences, np.float32),
    })
    for mine, theirs in zip(got, expected, strict=True):
        assert np.array_equal(mine, theirs)
