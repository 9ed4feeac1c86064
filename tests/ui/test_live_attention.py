"""Attention Lab live from Generate: it draws the attention the generation's own forward passes hand
over, and runs no forward pass of its own (issue 13)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from playground.core.attention import capture_ids
from playground.core.attention_records import AttentionSoFar
from playground.core.sampling import SamplingSettings, generate_tokens
from playground.engine.jobs import Job
from playground.engine.session import GeneratedText
from playground.ui.attention_panel import SOURCE_GENERATE, SOURCE_PROBE, SOURCE_TEXT, AttentionPanel

NEW_TOKENS = 10


@pytest.fixture(scope="module")
def demo():
    from playground.core.checkpoints import load_checkpoint
    from playground.paths import demo_model_dir

    assert demo_model_dir() is not None, "models/demo is missing: it ships with the repository, so restore it"
    return load_checkpoint(demo_model_dir())


def show(qtbot, widget):
    qtbot.addWidget(widget)
    widget.resize(1150, 780)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.fixture
def lab(qtbot, session, demo):
    session.set_checkpoint(*demo)
    panel = show(qtbot, AttentionPanel(session))
    panel.source.setCurrentIndex(SOURCE_GENERATE)
    qtbot.waitUntil(panel.is_idle, timeout=30_000)
    yield panel
    panel.stop_and_wait()


@pytest.fixture
def forwards(demo):
    """Counts the demo model's forward passes, whoever runs them."""
    _, model = demo
    calls = []
    handle = model.register_forward_hook(lambda *_: calls.append(1))
    yield calls
    handle.remove()


def assert_draws(lab, model, ids) -> None:
    """The Lab shows what a separate full forward over the text finds, in the heatmap too."""
    T = len(ids)
    expected = capture_ids(model, ids).numpy()
    assert lab.shown.weights.shape == expected.shape and lab.heatmap.image.shape == (T, T)
    np.testing.assert_allclose(lab.shown.weights, expected, atol=1e-5, rtol=0)
    layer, head = lab.layer.value(), lab.head.value()
    below = np.tril_indices(T)
    np.testing.assert_allclose(lab.heatmap.image[below], expected[layer, head][below], atol=1e-5, rtol=0)


def test_the_lab_asks_for_attention_only_while_it_follows_generate(qtbot, lab):
    assert lab.session.live_attention_wanted
    lab.source.setCurrentIndex(SOURCE_TEXT)
    assert not lab.session.live_attention_wanted
    lab.source.setCurrentIndex(SOURCE_PROBE)
    assert not lab.session.live_attention_wanted
    lab.source.setCurrentIndex(SOURCE_GENERATE)
    assert lab.session.live_attention_wanted
    qtbot.waitUntil(lab.is_idle, timeout=30_000)


def test_live_mode_draws_the_generation_s_attention_without_a_forward_of_its_own(qtbot, lab, demo, forwards):
    """What the Generate panel does, token by token: the Lab's jobs never run the model."""
    checkpoint, model = demo
    tokenizer = checkpoint.tokenizer
    prompt = tokenizer.encode_ids(["def add(a, b):"])[0]
    ids, so_far = list(prompt), None

    def announce() -> None:
        lab.session.text_generated.emit(
            GeneratedText(
                checkpoint,
                list(ids),
                [tokenizer.decode([i]) for i in ids],
                prompt_tokens=len(prompt),
                attention=so_far,
                attention_follows=True,
            )
        )
        qtbot.waitUntil(lab.is_idle, timeout=30_000)

    announce()  # the prompt: its attention comes with the first token
    assert lab.shown is None and "reading the prompt" in lab.views.blank.text()
    settings = SamplingSettings(strategy="greedy", max_new_tokens=NEW_TOKENS, stop_at_end=False)
    for token in generate_tokens(model, prompt, settings, tokenizer=tokenizer, attention=True):
        ids.append(token.id)
        so_far = (so_far or AttentionSoFar()).add(token.attention)
        announce()
        assert lab.heatmap.image.shape == (len(ids), len(ids))
    assert len(forwards) == 1 + NEW_TOKENS  # the generation's own: the prompt, then each new token once
    assert f"{len(prompt)} prompt + {NEW_TOKENS} written tokens" in lab.heatmap.title.text
    assert_draws(lab, model, ids)


def test_generating_while_the_lab_follows_runs_only_the_generation_s_forwards(qtbot, lab, demo, forwards):
    """The Generate panel hands its attention over with each token; the Lab draws it."""
    from playground.ui.generate_panel import GeneratePanel

    checkpoint, model = demo
    generate = show(qtbot, GeneratePanel(lab.session))
    try:
        generate.set_settings(
            replace(
                generate.settings(),
                strategy="greedy",
                repetition_penalty=1.0,
                stop_at_end=False,
                max_new_tokens=NEW_TOKENS,
            )
        )
        generate.prompt_edit.setPlainText("def add(a, b):")
        assert generate.generate() is not None
        qtbot.waitUntil(lambda: not generate.is_busy() and not Job.running(), timeout=60_000)
        qtbot.waitUntil(
            lambda: lab.is_idle() and lab.shown is not None and len(lab.shown.tokens) == len(lab.last_generated.ids),
            timeout=30_000,
        )
        read = lab.last_generated
        assert len(read.ids) == read.prompt_tokens + NEW_TOKENS and read.attention is not None
        assert len(forwards) == 1 + NEW_TOKENS
        assert_draws(lab, model, read.ids)
    finally:
        generate.stop_and_wait()


def test_text_generated_without_attention_is_still_read_once(qtbot, lab, demo, forwards):
    """A generation that did not hand attention over (the Lab was not live then) is looked at with one forward."""
    checkpoint, model = demo
    ids = checkpoint.tokenizer.encode_ids(["The cat sat on the mat."])[0]
    lab.session.text_generated.emit(
        GeneratedText(checkpoint, ids, [checkpoint.tokenizer.decode([i]) for i in ids], prompt_tokens=2)
    )
    qtbot.waitUntil(lambda: lab.is_idle() and lab.shown is not None, timeout=30_000)
    assert len(forwards) == 1
    assert_draws(lab, model, ids)
