"""The Generate step's job generators, run without Qt on the demo model: what each yields, returns, and
what closing it early (the engine's Stop) leaves."""

from dataclasses import replace

import pytest

from playground.core.beam_search import BeamsUpdate, beam_search
from playground.core.generation_jobs import (
    ColumnPrompt,
    ColumnToken,
    OneModel,
    PromptPrepared,
    TokenGenerated,
    explain_next_token,
    generate_columns,
    generate_text,
    sample_seeds,
    search_beams,
    seeded_generator,
    step_token,
)
from playground.core.progress import Progress
from playground.core.sampling import SamplingSettings, generate_tokens

GREEDY = SamplingSettings(strategy="greedy", repetition_penalty=1.0, max_new_tokens=6, stop_at_end=False)
SAMPLE = SamplingSettings(
    strategy="sample",
    temperature=1.0,
    top_k=20,
    top_p=1.0,
    min_p=0.0,
    repetition_penalty=1.0,
    max_new_tokens=5,
    stop_at_end=False,
    seed=7,
)


@pytest.fixture(scope="module")
def demo(one_thread):
    from playground.core.checkpoints import load_checkpoint
    from playground.paths import demo_model_dir

    path = demo_model_dir()
    assert path is not None, "models/demo is missing: it ships with the repository, so restore it"
    checkpoint, model = load_checkpoint(path)
    return checkpoint, OneModel(model), model


def items_and_result(gen):
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


def test_generate_text_yields_the_prompt_then_each_token(demo):
    checkpoint, models, model = demo
    items, tokens = items_and_result(generate_text(models, checkpoint, "def ", GREEDY))
    prompt, rest = items[0], items[1:]
    assert isinstance(prompt, PromptPrepared) and prompt.text == "def " and prompt.shown == "def " and prompt.cut == ""
    assert prompt.prepared.ids == checkpoint.tokenizer.encode_ids(["def "])[0]
    assert all(isinstance(i, TokenGenerated) for i in rest) and len(rest) == 6
    assert [i.token for i in rest] == tokens
    expected = generate_tokens(model, prompt.prepared.ids, GREEDY, tokenizer=checkpoint.tokenizer)
    assert [t.id for t in tokens] == [t.id for t in expected]


def test_closing_generate_text_stops_it_and_leaves_the_model_as_it_was(demo):
    checkpoint, models, model = demo
    model.train()
    try:
        job = generate_text(models, checkpoint, "The", replace(GREEDY, max_new_tokens=1000))
        seen = [next(job) for _ in range(4)]
        job.close()  # what the engine does on Stop
        assert isinstance(seen[0], PromptPrepared) and len(seen) == 4
        assert model.training  # the inner generator's clean-up ran
    finally:
        model.eval()


def test_a_prompt_longer_than_the_context_is_shown_cut(demo):
    checkpoint, models, _ = demo
    text = "the cat sat on the mat. " * 100
    prompt = next(generate_text(models, checkpoint, text, GREEDY))
    assert prompt.prepared.cut_tokens > 0 and "cut" in prompt.prepared.notice
    assert len(prompt.prepared.ids) == checkpoint.model_config.context_length
    assert prompt.shown == prompt.kept and prompt.cut + prompt.kept == text


def test_steps_continue_one_seeded_run(demo):
    """Step after Step with one generator draws what one seeded run draws, indexed from the first."""
    checkpoint, models, _ = demo
    _, run = items_and_result(
        generate_text(models, checkpoint, "The", replace(SAMPLE, max_new_tokens=3), seeded_generator(7))
    )
    generator = seeded_generator(7)
    items, first = items_and_result(step_token(models, checkpoint, "The", [], [], SAMPLE, generator))
    assert len(items) == 1 and isinstance(items[0], PromptPrepared)  # a fresh start prepares the prompt
    prompt_ids, made = items[0].prepared.ids, [first]
    for _ in range(2):
        more, token = items_and_result(
            step_token(models, checkpoint, "The", prompt_ids, [t.id for t in made], SAMPLE, generator)
        )
        assert more == []  # continuing: the prompt is known
        made.append(token)
    assert [t.id for t in made] == [t.id for t in run]
    assert [t.index for t in made] == [0, 1, 2]
    assert all(t.stages and t.stop_reason == "" for t in made)  # one token asked for is no reason to report
    assert "".join(t.text for t in made) == checkpoint.tokenizer.decode([t.id for t in made])


def test_search_beams_reports_steps_and_returns_what_beam_search_returns(demo):
    checkpoint, models, model = demo
    settings = SamplingSettings(strategy="beam", beams=3, max_new_tokens=8, stop_at_end=False)
    items, result = items_and_result(search_beams(models, checkpoint, "import", settings))
    assert isinstance(items[0], PromptPrepared)
    updates = [i for i in items if isinstance(i, BeamsUpdate)]
    progress = [i for i in items if isinstance(i, Progress)]
    assert len(items) == 1 + len(updates) + len(progress)
    assert [u.steps for u in updates] == list(range(1, 8))
    assert [p.fraction for p in progress] == [s / 8 for s in range(1, 8)]
    assert result == beam_search(model, items[0].prepared.ids, settings, tokenizer=checkpoint.tokenizer)


def test_columns_side_by_side(demo):
    checkpoint, models, _ = demo
    runs = [("The", replace(SAMPLE, seed=seed)) for seed in sample_seeds(5, 3)] + [("def ", GREEDY)]
    items, result = items_and_result(generate_columns(models, checkpoint, runs))
    assert result is None
    prompts = [i for i in items if isinstance(i, ColumnPrompt)]
    assert [p.column for p in prompts] == [0, 1, 2, 3]
    assert prompts[0].prompt is prompts[1].prompt is prompts[2].prompt  # one text is prepared once
    assert prompts[3].prompt.text == "def "
    tokens = [i for i in items if isinstance(i, ColumnToken)]
    assert [sum(t.column == c for t in tokens) for c in range(4)] == [5, 5, 5, 6]
    order = [i.column for i in items]
    assert order == sorted(order)  # one column after the other
    texts = {c: "".join(t.token.text for t in tokens if t.column == c) for c in range(3)}
    assert len(set(texts.values())) == 3  # seeds 5, 6 and 7 draw differently


def test_explain_next_token_gives_each_settings_stage(demo):
    checkpoint, models, _ = demo
    ids = checkpoint.tokenizer.encode_ids(["The"])[0]
    stages = explain_next_token(models, checkpoint, ids, replace(SAMPLE, temperature=0.7, top_p=0.9))
    assert [s.name for s in stages] == ["the model", "temperature 0.7", "top-k 20", "top-p 0.9"]
    assert stages[2].kept == 20 and stages[3].kept <= 20


def test_sample_seeds_count_up_from_the_seed_or_a_random_start():
    assert sample_seeds(5, 3) == [5, 6, 7]
    drawn = sample_seeds(None, 4)
    assert drawn == list(range(drawn[0], drawn[0] + 4)) and 0 <= drawn[0] < 2**31 - 8
