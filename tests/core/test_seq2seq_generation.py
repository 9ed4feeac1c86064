"""Generation with an encoder-decoder: every decoder and processor of the decoder path, through the
decoder's caches, equal to `greedy_decode` and to transformers' `generate`; the jobs' records; the input cut."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from sample_text import sentences  # tests/ is on sys.path
from tiny_runs import wordpiece_tokenizer

from playground.core.beam_search import BeamsUpdate, beam_search
from playground.core.checkpoints import load_checkpoint, save_checkpoint, write_run_files
from playground.core.config import ModelConfig
from playground.core.generation_jobs import (
    InputPrepared,
    OneModel,
    TokenGenerated,
    explain_next_token,
    generate_text,
    search_beams,
    step_token,
)
from playground.core.model import GPT
from playground.core.progress import UserError, run_quietly
from playground.core.sampling import SamplingSettings, generate_tokens
from playground.core.seq2seq_generation import Seq2SeqRows, prepare_input
from playground.core.t5_model import T5, greedy_decode, shift_right
from playground.core.t5_tokens import t5_tokens, with_t5_tokens
from playground.core.train_config import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")

GREEDY = SamplingSettings(strategy="greedy", max_new_tokens=12)
SAMPLE = SamplingSettings(strategy="sample", temperature=1.3, max_new_tokens=12, seed=3)
SIZES = dict(context_length=16, n_layer=2, n_head=4, n_embd=32, relative_buckets=8, relative_max_distance=20)


@pytest.fixture(scope="module")
def tokenizer():
    return with_t5_tokens(wordpiece_tokenizer(sentences(100), vocab_size=80))


@pytest.fixture(scope="module")
def model(tokenizer) -> T5:
    """A T5 trained a little to copy its input and end with </s>: a random one writes one token over and over."""
    tokens = t5_tokens(tokenizer)
    torch.manual_seed(0)
    model = T5(ModelConfig.t5_style(vocab_size=tokenizer.vocab_size, **SIZES))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for step in range(200):
        x = torch.randint(5, 80, (16, 3 + step % 6), generator=g)  # 3 to 8 tokens, then </s>
        x = torch.cat([x, torch.full((16, 1), tokens.eos)], dim=1)
        loss = model(x, shift_right(x, tokens.decoder_start), labels=x).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="module")
def run(model, tokenizer, tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "t5"
    write_run_files(folder, model.config, TrainConfig(), tokenizer)
    save_checkpoint(folder, "best", model, {}, {"step": 150})
    return folder


def the_input(tokenizer, text: str = "the cat sat on the mat") -> list[int]:
    return prepare_input(tokenizer, text, SIZES["context_length"]).ids


def written(model, tokenizer, settings, text: str = "the cat sat on the mat", **kwargs) -> list[int]:
    start = t5_tokens(tokenizer).decoder_start
    tokens = generate_tokens(model, [start], settings, tokenizer, input_ids=the_input(tokenizer, text), **kwargs)
    return [t.id for t in tokens]


# -- the decoders ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["the cat sat on the mat", "a dog", "on the mat the cat"])
def test_greedy_writes_what_greedy_decode_writes_and_stops_at_the_end_token(model, tokenizer, text):
    tokens = t5_tokens(tokenizer)
    ids = torch.tensor([the_input(tokenizer, text)])
    expected = greedy_decode(model, ids, tokens.decoder_start, 12, end_id=tokens.eos)[0].tolist()
    ours = written(model, tokenizer, GREEDY, text)
    assert ours == expected[: expected.index(tokens.eos) + 1] if tokens.eos in expected else expected
    assert ours[-1] == tokens.eos and len(set(ours)) > 2  # it learned to end, and not one token over and over
    unstopped = written(model, tokenizer, replace(GREEDY, stop_at_end=False), text)
    assert unstopped == greedy_decode(model, ids, tokens.decoder_start, 12)[0].tolist()


def test_the_end_token_is_t5s_even_when_the_tokenizer_has_another(model, tokenizer):
    """[SEP] (a decoder's end for a WordPiece tokenizer) is no end for an encoder-decoder: </s> is."""
    assert "[SEP]" in tokenizer.special_tokens
    last = list(generate_tokens(model, [t5_tokens(tokenizer).decoder_start], GREEDY, tokenizer, input_ids=[5, 6]))[-1]
    assert last.stop_reason in ("the end-of-text token", "max new tokens")
    if last.stop_reason == "the end-of-text token":
        assert last.id == t5_tokens(tokenizer).eos


def test_one_beam_is_greedy_and_more_beams_score_at_least_as_well(model, tokenizer):
    start = t5_tokens(tokenizer).decoder_start
    beam = replace(GREEDY, strategy="beam", beams=1)
    one = beam_search(model, [start], beam, tokenizer, input_ids=the_input(tokenizer))
    assert one.beams[0].ids == written(model, tokenizer, GREEDY)
    three = beam_search(model, [start], replace(beam, beams=3), tokenizer, input_ids=the_input(tokenizer))
    assert len(three.beams) == 3 and three.beams[0].score >= one.beams[0].score
    assert all(b.finished and b.ids[-1] == t5_tokens(tokenizer).eos for b in three.beams)
    assert three.beams[0].text == tokenizer.decode(three.beams[0].ids)


def test_sampling_with_a_seed_repeats_and_top_k_1_is_greedy(model, tokenizer):
    first = written(model, tokenizer, SAMPLE)
    assert first == written(model, tokenizer, SAMPLE)
    draws = {tuple(written(model, tokenizer, replace(SAMPLE, seed=seed))) for seed in range(6)}
    assert len(draws) > 1
    assert written(model, tokenizer, replace(SAMPLE, top_k=1)) == written(model, tokenizer, GREEDY)


def test_the_processors_reshape_what_is_written(model, tokenizer):
    """A random T5 writes one token over and over; the repetition penalty breaks that. The filters apply
    too: each token was drawn from what they left."""
    torch.manual_seed(1)
    fresh = T5(model.config).eval()
    settings = replace(GREEDY, stop_at_end=False)
    plain = written(fresh, tokenizer, settings)
    assert len(set(plain)) == 1
    penalised = written(fresh, tokenizer, replace(settings, repetition_penalty=10.0))
    assert len(set(penalised)) > 1
    start = t5_tokens(tokenizer).decoder_start
    filtered = replace(SAMPLE, top_k=3)
    for token in generate_tokens(model, [start], filtered, tokenizer, input_ids=the_input(tokenizer), explain=True):
        assert [s.name for s in token.stages] == ["the model", "temperature 1.3", "top-k 3"]
        assert token.stages[-1].kept == 3 and token.id in [c.id for c in token.after]


@pytest.mark.parametrize("strategy", ["sample", "beam"])
def test_cached_decoding_equals_decoding_without_the_caches(model, tokenizer, strategy):
    settings = replace(SAMPLE, strategy=strategy, beams=3, max_new_tokens=20, stop_at_end=False)
    start, ids = t5_tokens(tokenizer).decoder_start, the_input(tokenizer)
    if strategy == "beam":
        cached, bare = (beam_search(model, [start], settings, tokenizer, input_ids=ids, use_cache=c) for c in (1, 0))
        assert [b.ids for b in cached.beams] == [b.ids for b in bare.beams]
        assert [b.logprob for b in cached.beams] == pytest.approx([b.logprob for b in bare.beams], abs=1e-4)
        return
    # past the decoder's context (16) too, where both read the last 16 tokens afresh
    cached, bare = (
        list(generate_tokens(model, [start], settings, tokenizer, input_ids=ids, use_cache=c)) for c in (1, 0)
    )
    assert [t.id for t in cached] == [t.id for t in bare]
    assert [t.prob for t in cached] == pytest.approx([t.prob for t in bare], abs=1e-5)


def test_a_decoder_and_an_encoder_decoder_say_what_they_read(model, tokenizer):
    gpt = GPT(ModelConfig.from_preset("tiny", tokenizer.vocab_size, context_length=16, n_layer=1))
    with pytest.raises(UserError, match="Only an encoder-decoder reads an input"):
        list(generate_tokens(gpt, [1, 2], GREEDY, input_ids=[3, 4]))
    with pytest.raises(UserError, match="writes an output for an input"):
        list(generate_tokens(model, [0], GREEDY))


# -- attention, a record per token ----------------------------------------------------------------


def test_each_token_hands_its_decoder_and_cross_attention_rows_as_a_forward_pass_finds_them(model, tokenizer):
    start, ids = t5_tokens(tokenizer).decoder_start, the_input(tokenizer)
    settings = replace(GREEDY, stop_at_end=False, max_new_tokens=6)
    tokens = list(generate_tokens(model, [start], settings, tokenizer, input_ids=ids, attention=True))
    assert [t.id for t in tokens] == written(model, tokenizer, settings)
    rows = [t.attention for t in tokens]
    assert all(isinstance(r, Seq2SeqRows) for r in rows)
    assert [r.n_rows for r in rows] == [2, 1, 1, 1, 1, 1]  # the first carries the start token's row too
    assert [r.cross.shape[2] for r in rows] == [2, 1, 1, 1, 1, 1]
    assert rows[0].encoder is not None and all(r.encoder is None for r in rows[1:])
    decoder_ids = torch.tensor([[start] + [t.id for t in tokens]])
    with torch.no_grad():
        full = model(torch.tensor([ids]), decoder_ids, capture_attention=True)
    cross = np.concatenate([r.cross for r in rows], axis=2)
    np.testing.assert_allclose(cross, full.cross_attentions[:, 0].numpy(), atol=1e-5)
    np.testing.assert_allclose(rows[0].encoder, full.encoder_attentions[:, 0].numpy(), atol=1e-5)
    decoder = full.decoder_attentions[:, 0].numpy()
    row = 0
    for r in rows:
        np.testing.assert_allclose(r.weights, decoder[:, :, row : row + r.n_rows, : r.n_keys], atol=1e-5)
        row += r.n_rows


# -- the input --------------------------------------------------------------------------------------


def test_an_input_ends_with_the_end_token_and_a_long_one_is_cut_with_a_notice(tokenizer):
    eos = t5_tokens(tokenizer).eos
    short = prepare_input(tokenizer, "the cat", 16)
    assert short.ids == tokenizer.encode_ids(["the cat"])[0] + [eos] and short.notice == ""
    text = " ".join(["the cat sat on the mat"] * 5)
    whole = tokenizer.encode_ids([text])[0]
    cut = prepare_input(tokenizer, text, 16)
    assert cut.ids == whole[:15] + [eos] and cut.cut_tokens == len(whole) + 1 - 16 and cut.exact
    assert "encoder reads at most 16" in cut.notice and f"the last {cut.cut_tokens}" in cut.notice
    huge = prepare_input(tokenizer, text * 400, 16)
    assert huge.ids == whole[:15] + [eos] and not huge.exact and "the rest is cut" in huge.notice
    assert prepare_input(tokenizer, "", 16).ids == [eos] and "empty" in prepare_input(tokenizer, "", 16).notice


# -- the jobs -----------------------------------------------------------------------------------------


def items_and_result(job):
    """What a job yields (Progress aside) and what it returns."""
    items: list = []
    return items, run_quietly(job, on_partial=items.append)


def test_the_jobs_take_an_input_and_yield_the_records_of_a_decoder(run, tokenizer):
    checkpoint, model = load_checkpoint(run)
    assert isinstance(model, T5)
    models = OneModel(model)
    text = " ".join(["the cat sat on the mat"] * 5)
    items, tokens = items_and_result(generate_text(models, checkpoint, text, GREEDY, attention=True))
    prompt = items[0]
    assert (
        isinstance(prompt, InputPrepared)
        and prompt.prepared.notice
        and prompt.prepared.ids[-1] == t5_tokens(tokenizer).eos
    )
    assert prompt.kept and prompt.cut and prompt.kept + prompt.cut == text
    assert all(isinstance(i, TokenGenerated) for i in items[1:]) and [i.token for i in items[1:]] == tokens
    assert [t.id for t in tokens] == written(model, tokenizer, GREEDY, text)
    assert all(isinstance(t.attention, Seq2SeqRows) for t in tokens)

    # Step after step (the panel hands back the input's ids) writes what one run writes.
    made = []
    _, first = items_and_result(step_token(models, checkpoint, "a dog", [], [], GREEDY))
    made.append(first)
    ids = prepare_input(tokenizer, "a dog", 16).ids
    while not made[-1].stop_reason and len(made) < 12:
        _, token = items_and_result(step_token(models, checkpoint, "a dog", ids, [t.id for t in made], GREEDY))
        made.append(token)
    assert [t.id for t in made] == written(model, tokenizer, GREEDY, "a dog")[: len(made)]
    assert [t.index for t in made] == list(range(len(made))) and all(t.stages for t in made)
    stages = explain_next_token(models, checkpoint, [t.id for t in made[:2]], SAMPLE, input_ids=ids)
    assert stages[0].candidates[0].id == made[2].id  # greedy took the model's best

    beams = replace(GREEDY, strategy="beam", beams=3)
    items, result = items_and_result(search_beams(models, checkpoint, "a dog", beams))
    assert isinstance(items[0], InputPrepared)
    assert all(isinstance(i, BeamsUpdate) for i in items[1:]) and len(items) > 2
    start = t5_tokens(tokenizer).decoder_start
    assert result == beam_search(model, [start], beams, tokenizer, input_ids=ids)


# -- transformers --------------------------------------------------------------------------------


def test_transformers_generate_writes_the_same_greedy_tokens(run, model, tokenizer, tmp_path):
    transformers = pytest.importorskip("transformers")
    from playground.core import huggingface as hf

    transformers.logging.set_verbosity_error()
    folder = run_quietly(hf.export_checkpoint(run, tmp_path / "hf"))
    theirs_model = transformers.T5ForConditionalGeneration.from_pretrained(folder, local_files_only=True).eval()
    tokens = t5_tokens(tokenizer)
    for text in ["the cat sat on the mat", "a dog", "on the mat the cat"]:
        ids = the_input(tokenizer, text)
        theirs = theirs_model.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False, num_beams=1)
        assert theirs[0, 0] == tokens.decoder_start
        assert written(model, tokenizer, GREEDY, text) == theirs[0, 1:].tolist()


# -- the command line -----------------------------------------------------------------------------


def test_playground_generate_writes_the_output_for_an_input(run, model, tokenizer, capsys, tmp_path):
    import json

    from playground.cli import main

    def generate(*args) -> tuple[int, str, str]:
        code = main(["generate", "--model", str(run), "--threads", "1", *map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = generate("--input", "a dog", "--max-new-tokens", 12, "--json")
    data = json.loads(out)
    assert code == 0 and data["input"] == "a dog" and data["strategy"] == "greedy"
    assert [t["id"] for t in data["tokens"]] == written(model, tokenizer, GREEDY, "a dog")
    assert data["stop_reason"] == "the end-of-text token"
    code, out, _ = generate("--input", "a dog", "--max-new-tokens", 12)
    assert code == 0 and out == tokenizer.decode(written(model, tokenizer, GREEDY, "a dog")) + "\n"
    code, out, err = generate("--input", "a dog", "--beams", 3, "--max-new-tokens", 12, "--json")
    assert code == 0 and len(json.loads(out)["beams"]) == 3 and "beam 1" not in err
    sampled = [
        generate("--input", "a dog", "--temperature", 1.5, "--top-p", 0.9, "--seed", 4, "--json")[1] for _ in "ab"
    ]
    assert json.loads(sampled[0])["strategy"] == "sample" and sampled[0] == sampled[1]
    code, _, err = generate("--input", " ".join(["the cat sat on the mat"] * 5), "--max-new-tokens", 2)
    assert code == 0 and "the encoder reads at most 16" in err
    code, _, err = generate("--prompt", "a dog")
    assert code == 2 and "Give the text with --input" in err
    # A prompt template fills the input.
    template = tmp_path / "t.json"
    template.write_text(json.dumps({"name": "t", "mode": "zero-shot", "examples": [], "query_format": "copy: {input}"}))
    code, out, err = generate("--template", template, "--input", "a dog", "--max-new-tokens", 12, "--json")
    assert code == 0 and json.loads(out)["input"] == "copy: a dog", err
    assert [t["id"] for t in json.loads(out)["tokens"]] == written(model, tokenizer, GREEDY, "copy: a dog")
