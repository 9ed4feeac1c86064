"""The same sentence through the demo GPT and the demo BERT: a triangle and a square."""

import numpy as np
import pytest

from playground import paths
from playground.core.causal_vs_masked import MAX_TOKENS, read_by_both
from playground.core.progress import Progress, UserError, run_quietly

pytestmark = pytest.mark.usefixtures("one_thread")


def test_the_decoder_reads_a_triangle_and_the_encoder_a_square():
    assert paths.demo_encoder_dir() is not None, "models/demo-encoder ships with the repository"
    steps = list(read_by_both("Return the length of the list."))
    assert all(isinstance(s, Progress) for s in steps)
    result = run_quietly(read_by_both("Return the length of the list."))
    decoder, encoder = result.decoder, result.encoder
    assert not decoder.encoder and encoder.encoder and result.notice == ""
    assert encoder.tokens[0] == "[CLS]" and encoder.tokens[-1] == "[SEP]"  # as BERT reads a text
    assert "[CLS]" not in decoder.tokens
    for layer in range(min(decoder.n_layer, encoder.n_layer)):
        for head in ("mean", 0, 1):
            triangle, square = decoder.matrix(layer, head), encoder.matrix(layer, head)
            assert np.allclose(triangle.sum(axis=1), 1, atol=1e-5) and np.allclose(square.sum(axis=1), 1, atol=1e-5)
            assert np.triu(triangle, k=1).max() == 0  # no token reads a later one
            assert square[np.triu_indices(len(square), k=1)].min() > 0  # every token reads every token


def test_a_layer_or_head_a_model_lacks_gives_its_nearest():
    result = run_quietly(read_by_both("the list"))
    last = result.decoder.n_layer - 1
    assert np.array_equal(result.decoder.matrix(99, 99), result.decoder.matrix(last, result.decoder.n_head - 1))


def test_a_long_sentence_is_cut_with_a_notice():
    result = run_quietly(read_by_both("Return the length of the list. " * 10))
    assert len(result.decoder.tokens) == MAX_TOKENS and len(result.encoder.tokens) == MAX_TOKENS
    assert "first" in result.notice


def test_no_sentence_or_no_demo_encoder_is_a_sentence(monkeypatch):
    with pytest.raises(UserError, match="sentence"):
        run_quietly(read_by_both("   "))
    monkeypatch.setattr(paths, "demo_encoder_dir", lambda: None)
    with pytest.raises(UserError, match="models/demo-encoder"):
        run_quietly(read_by_both("the list"))


def test_two_decoders_are_refused():
    demo = paths.demo_model_dir()
    with pytest.raises(UserError, match="encoder"):
        run_quietly(read_by_both("the list", decoder_dir=demo, encoder_dir=demo))
