"""Our beam search against Hugging Face transformers' generate(do_sample=False) on the same weights:
the same hypotheses, in the same order, with the same scores, on many prompts, for both early
stopping rules and several length penalties (repetition penalty 1: ours works on logits, theirs on
log-probabilities, so they differ on purpose above 1)."""

from __future__ import annotations

import pytest
import torch

from playground.core.beam_search import beam_search
from playground.core.config import ModelConfig
from playground.core.huggingface import to_transformers_gpt2
from playground.core.model import GPT
from playground.core.sampling import SamplingSettings

transformers = pytest.importorskip("transformers")

VOCAB = 97
EOS = 3
MAX_NEW = 12
LENGTH_PENALTIES = (1.0, 0.0, 2.0, -0.5)


class EndTokenizer:
    """Just enough of a tokenizer for beam search to know its end-of-text token."""

    special_tokens = frozenset({"<|endoftext|>"})

    def __init__(self):
        self.tokenizer = self

    def token_to_id(self, token):
        return EOS if token == "<|endoftext|>" else None

    def decode(self, ids):
        return " ".join(map(str, ids))


@pytest.fixture(scope="module")
def models(one_thread):
    """A random GPT-2 sharp enough that beams part ways, whose end token wins now and then:
    some beams end after 1 token, others after 5 or 6, others reach the length limit."""
    torch.manual_seed(0)
    model = GPT.from_config(
        ModelConfig.gpt2_style(vocab_size=VOCAB, context_length=32, n_layer=2, n_head=4, n_embd=32, tie_weights=False)
    ).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)
        model.lm_head.weight.mul_(5.0)
        model.lm_head.weight[EOS] *= 1.3
    transformers.logging.set_verbosity_error()  # no advice about generation configs
    return model, to_transformers_gpt2(model, eos_token_id=EOS)


def prompts(count=32):
    g = torch.Generator().manual_seed(2)
    lengths = torch.randint(1, 8, (count,), generator=g).tolist()
    return [torch.randint(EOS + 1, VOCAB, (n,), generator=g).tolist() for n in lengths]


def theirs(hf_model, prompt, beams, early_stopping, length_penalty):
    """transformers' hypotheses: (new ids up to and including the end token, score), best first."""
    with torch.no_grad():
        out = hf_model.generate(
            torch.tensor([prompt]),
            attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            num_beams=beams,
            num_return_sequences=beams,
            early_stopping=early_stopping,
            length_penalty=length_penalty,
            do_sample=False,
            max_new_tokens=MAX_NEW,
            eos_token_id=EOS,
            pad_token_id=EOS,
            output_scores=True,
            return_dict_in_generate=True,
        )
    found = []
    for row, score in zip(out.sequences.tolist(), out.sequences_scores.tolist()):
        new = row[len(prompt) :]
        if EOS in new:  # what follows the end token is padding
            new = new[: new.index(EOS) + 1]
        found.append((new, score))
    return found


@pytest.mark.parametrize("early_stopping", [True, False])
@pytest.mark.parametrize("beams", [2, 4])
def test_beam_search_returns_what_transformers_returns(models, beams, early_stopping):
    model, hf_model = models
    compared, ended, cut, mismatches = 0, set(), 0, []
    for length_penalty in LENGTH_PENALTIES:
        for prompt in prompts():
            settings = SamplingSettings(
                strategy="beam",
                beams=beams,
                early_stopping=early_stopping,
                length_penalty=length_penalty,
                max_new_tokens=MAX_NEW,
            )
            ours = beam_search(model, prompt, settings, tokenizer=EndTokenizer()).beams
            expected = theirs(hf_model, prompt, beams, early_stopping, length_penalty)
            compared += 1
            if [b.ids for b in ours] != [ids for ids, _ in expected] or any(
                b.score != pytest.approx(score, rel=1e-4, abs=1e-4) for b, (_, score) in zip(ours, expected)
            ):
                mismatches.append((length_penalty, prompt, [(b.ids, b.score) for b in ours], expected))
            for beam in ours:
                assert beam.finished == (beam.ids[-1] == EOS)
                if beam.finished:
                    ended.add(len(beam.ids))
                else:
                    assert len(beam.ids) == MAX_NEW  # only the length limit returns a beam without the end
                    cut += 1
    assert compared == len(LENGTH_PENALTIES) * 32
    # The comparison means something only when beams end at different times and some reach the limit.
    assert len(ended) >= 3 and cut > 0
    assert not mismatches, f"{len(mismatches)} of {compared} differ, the first: {mismatches[0]}"
