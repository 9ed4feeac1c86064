"""The demo encoder that ships in models/demo-encoder: it loads, it is a BERT-style encoder with the
special tokens masking needs, and it fills a mask with a word."""

import pytest

from playground import paths
from playground.core.checkpoints import load_checkpoint
from playground.core.fill_mask import fill_mask
from playground.core.tokenization import ENCODER_SPECIAL_TOKENS

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def demo_encoder():
    folder = paths.demo_encoder_dir()
    assert folder is not None, "models/demo-encoder is missing: it ships with the repository, so restore it"
    return load_checkpoint(folder)


def test_the_demo_encoder_is_a_small_bert_with_the_special_tokens(demo_encoder):
    checkpoint, model = demo_encoder
    assert model.config.is_encoder and model.config.flavour == "bert"
    assert set(ENCODER_SPECIAL_TOKENS) <= set(checkpoint.tokenizer.special_tokens)
    assert checkpoint.train_config is not None and checkpoint.train_config.mask_share == 0.15
    assert sum(p.numel() for p in model.parameters()) < 3_000_000  # a few MB, like models/demo
    size = sum(f.stat().st_size for f in paths.demo_encoder_dir().rglob("*") if f.is_file())
    assert size < 10 * 2**20


def test_its_top_guess_for_a_masked_word_is_a_word(demo_encoder):
    checkpoint, model = demo_encoder
    for sentence in ("Return the [MASK] of the list.", "The default [MASK] is None."):
        top = fill_mask(model, checkpoint.tokenizer, sentence, top_k=5).slots[0].candidates[0]
        assert top.token not in checkpoint.tokenizer.special_tokens
        assert top.text.strip().isalpha() and not top.glued, (sentence, top)
