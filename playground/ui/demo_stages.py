"""The seven stages of the one-click demo (run by ``demo_flow.DemoRunner``), each with a talking point.

Every stage has to be convincing on the small model the demo trains:

- the model's context is sized, once the tokenizer exists, so the few-shot
  prompt fits whole (:func:`context_for`): no "the first tokens are cut";
- the prompt goes to Generate through the Prompt step, so the template's
  example separator becomes a stop string and the answer ends where the next
  example would begin;
- the attention stage reads one short sentence (every token's label fits) and
  ends on the head with the clearest habit in the head summary
  (:func:`most_distinctive_head`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from playground.core.prompts import generation_reserve
from playground.ui.demo_flow import Stage

if TYPE_CHECKING:
    from playground.ui.demo_flow import DemoRunner

# The head summary's habits (HeadStats fields): where a head's tokens look, as a host would say it.
HABITS = {
    "previous_token": "the token just before it",
    "first_token": "the first token (an attention sink)",
    "self_token": "itself",
}
CONTEXT_STEP = 32  # the Build step's context box moves in steps of 32


def context_for(prompt_tokens: int, at_least: int) -> int:
    """The smallest context, ``at_least`` plus steps of 32, whose prompt window holds ``prompt_tokens``.

    The Prompt and Generate steps keep ``generation_reserve(context)`` tokens
    free for the answer, so a prompt may use the rest.
    """
    context = max(1, at_least)
    while context - generation_reserve(context) < prompt_tokens:
        context += CONTEXT_STEP
    return context


def most_distinctive_head(stats: list) -> tuple[Any, str, float]:
    """The head (a HeadStats) whose strongest habit is the strongest of all heads, that habit and its weight.

    A habit is one of the head summary's columns (the weight on the previous
    token, the first token, the token itself); a head that puts most of every
    token's attention in one such place draws a clear line in its heatmap.
    Ties go to the sharper head (lower entropy).
    """
    if not stats:
        raise ValueError("no heads to choose from")

    def strongest(s) -> tuple[str, float]:
        return max(((habit, float(getattr(s, habit))) for habit in HABITS), key=lambda hv: hv[1])

    best = max(stats, key=lambda s: (strongest(s)[1], -s.entropy))
    habit, weight = strongest(best)
    return best, habit, weight


def demo_prompt_text(template_name: str) -> str:
    """The few-shot prompt the demo will send, rendered from the built-in template of that name."""
    from playground.core.prompts import builtin_templates

    template = next(t for t in builtin_templates() if t.name == template_name)
    return template.with_mode("few-shot").render().text


def demo_stages(runner: DemoRunner) -> list[Stage]:
    s = runner.settings
    w = runner.window
    session = runner.session
    tokenizer_panel, build, train = w.tokenizer_panel, w.build_panel, w.training_panel
    prompt, generate, attention = w.prompt_panel, w.generate_panel, w.attention_panel
    before: dict[str, Any] = {}  # what a stage saw when it started, for its check
    found: dict[str, Any] = {}  # what a stage found, for its talking point

    def go(panel, tab: Optional[int] = None):
        def show() -> None:
            w.go_to(panel.title)
            if tab is not None:
                panel.tabs.setCurrentIndex(tab)

        return show

    # -- 1 corpus
    def corpus_start() -> Optional[str]:
        w.go_to(tokenizer_panel.title)
        if s.use_default_corpus:
            from playground.core.corpus import default_corpus

            if session.corpus is None or session.corpus.files != default_corpus().files:
                tokenizer_panel.use_default_corpus()
        elif session.corpus is None:
            return "there is no corpus to learn from."
        return None

    def corpus_done() -> bool:
        return tokenizer_panel.corpus_job is None and session.corpus_stats is not None

    def corpus_talk() -> str:
        what = "Python's own documentation" if s.use_default_corpus else "this corpus"
        return (
            f"This is all the model will ever read: {what}. A language model knows only what is in its "
            "training text, so this choice shapes everything that follows."
        )

    # -- 2 tokenizer
    def tokenizer_start() -> Optional[str]:
        tokenizer_panel.kind.setCurrentIndex(tokenizer_panel.kind.findData("bpe"))
        tokenizer_panel.vocab_size.setValue(s.vocab_size)  # after the kind: choosing a kind resets it
        tokenizer_panel.tabs.setCurrentIndex(0)
        before["tokenizers"] = len(session.tokenizers)
        if tokenizer_panel.start_training() is None:
            return tokenizer_panel.spec_problem.text() or "the tokenizer could not start training."
        return None

    def tokenizer_check() -> Optional[str]:
        if len(session.tokenizers) <= before["tokenizers"]:
            return "no tokenizer came out of it; see the message above."
        return None

    def tokenizer_talk() -> str:
        return (
            f"The model reads numbers, not letters. The tokenizer learns the {s.vocab_size:,} most useful pieces "
            "of the text: common words become one token, rare ones are spelled out in pieces."
        )

    # -- 3 build
    def build_start() -> Optional[str]:
        from playground.core.config import PRESETS

        w.go_to(build.title)
        build.set_preset(s.preset)
        # Room for the whole few-shot prompt: counted with the tokenizer just trained.
        tokens = len(session.tokenizer.token_starts(demo_prompt_text(s.template)))
        found["prompt_tokens"] = tokens
        build.context_length.setValue(context_for(tokens, PRESETS[s.preset].context_length))
        return None

    def build_check() -> Optional[str]:
        cfg = session.model_config
        if cfg is None or not session.model_config_ok:
            return "the model size has a problem; see the Build step."
        return None

    def build_talk() -> str:
        from playground.core.config import parameter_breakdown

        cfg = session.model_config
        if cfg is None:
            return "We choose how big the model is: how many layers, how wide, how many tokens it reads at once."
        params = parameter_breakdown(cfg).total
        prompt_tokens = found.get("prompt_tokens")
        fits = f": our prompt has {prompt_tokens}, so it fits whole" if prompt_tokens else ""
        return (
            f"A small model: {cfg.n_layer} layers of {cfg.n_head} attention heads, {params:,} numbers to learn (the "
            f"smallest GPT-2 has over a hundred million). It reads {cfg.context_length} tokens at once{fits}."
        )

    # -- 4 train
    def train_start() -> Optional[str]:
        w.go_to(train.title)
        train.set_init_from(None)
        train.steps.setValue(s.steps)
        train.batch.setValue(s.batch_size)
        train.eval_interval.setValue(s.eval_interval)
        train.sample_interval.setValue(s.sample_interval)
        before["checkpoint"] = session.checkpoint
        if train.start() is None:
            return train.readiness_problem() or "training could not start; see the message above."
        return None

    def train_check() -> Optional[str]:
        if session.checkpoint is before.get("checkpoint") or session.checkpoint is None:
            return "training saved no model; see the message above."
        return None

    def train_talk() -> str:
        return (
            "Watch the loss fall: over and over, the model guesses the next token and is corrected. "
            f"Every {s.eval_interval} steps it is tested on text it never trained on: that curve is the honest one."
        )

    # -- 5 prompt
    def prompt_start() -> Optional[str]:
        w.go_to(prompt.title)
        combo = prompt.template_combo
        index = next((i for i in range(combo.count()) if combo.itemText(i).split(" (")[0] == s.template), 0)
        combo.setCurrentIndex(index)
        prompt.mode_combo.setCurrentIndex(max(0, prompt.mode_combo.findData("few-shot")))
        prompt.refresh()
        return None

    def prompt_check() -> Optional[str]:
        prompt.refresh()
        return f"the prompt cannot be used: {prompt.problem}" if prompt.problem else None

    def prompt_talk() -> str:
        k = prompt.template().k
        return (
            f"A few-shot prompt: {k} worked examples, then the start of one more for the model to finish. Nobody "
            "taught it this task; it can only continue the pattern, and the whole prompt fits in what it reads."
        )

    # -- 6 generate
    def generate_start() -> Optional[str]:
        prompt.send()  # hands the template to Generate (its separator becomes a stop string) and shows that step
        w.go_to(generate.title)
        generate.apply_preset("balanced")
        generate.controls.temperature.setValue(s.temperature)
        generate.max_new_tokens.setValue(s.max_new_tokens)
        if generate.generate() is None:
            return generate.readiness_problem() or "generation could not start; see the message above."
        return None

    def generate_check() -> Optional[str]:
        return None if generate.output.tokens() else "the model wrote nothing."

    def generate_talk() -> str:
        return (
            "The model writes one token at a time, each drawn from its own guesses. A model this small writes "
            "words that look like its documentation, even where they make no sense, but it stops at the blank line that "
            "ends each example: the template told it where an answer ends."
        )

    # -- 7 attention
    def attention_show() -> None:
        from playground.ui.attention_panel import VIEW_HEAD

        w.go_to(attention.title)
        attention.tabs.setCurrentIndex(0)
        attention.view.setCurrentIndex(VIEW_HEAD)

    def attention_start() -> Optional[str]:
        from playground.ui.attention_panel import SOURCE_TEXT

        attention_show()
        before["shown"] = attention.shown
        runner.chosen_head = None
        attention.source.setCurrentIndex(SOURCE_TEXT)
        attention.text_edit.setPlainText(s.attention_text)
        attention.capture_text()
        return None

    def attention_check() -> Optional[str]:
        shown = attention.shown
        if shown is None or shown is before.get("shown") or not shown.stats:
            return "the attention could not be captured; see the message above."
        head, habit, weight = most_distinctive_head(shown.stats)
        runner.chosen_head = (head.layer, head.head)
        found["habit"], found["weight"] = habit, weight
        attention.select_head(head.layer, head.head)  # the head summary highlights its row
        return None

    def attention_talk() -> str:
        if runner.chosen_head is None:
            return (
                "The model reads one short sentence. Each of its heads decides, for every token, which earlier "
                "tokens to look at: the head summary says what each head tends to do."
            )
        layer, head = runner.chosen_head
        return (
            f"Layer {layer}, head {head}, the clearest pattern of all heads: each token puts {found['weight']:.0%} "
            f"of its attention on {HABITS[found['habit']]}. Nobody programmed this; the model found it useful."
        )

    return [
        Stage(
            "corpus",
            "Reading the built-in corpus" if s.use_default_corpus else "Reading the corpus",
            corpus_talk,
            corpus_start,
            corpus_done,
            go(tokenizer_panel),
            cancel=tokenizer_panel.cancel_all,
            timeout_s=120,
        ),
        Stage(
            "tokenizer",
            f"Training a byte-level BPE tokenizer with {s.vocab_size:,} tokens",
            tokenizer_talk,
            tokenizer_start,
            lambda: tokenizer_panel.train_job is None,
            go(tokenizer_panel, 0),
            tokenizer_check,
            cancel=tokenizer_panel.cancel_all,
            timeout_s=300,
        ),
        Stage(
            "build",
            f"Choosing the {s.preset} model size",
            build_talk,
            build_start,
            lambda: True,
            go(build),
            build_check,
        ),
        Stage(
            "train",
            f"Training the model for {s.steps:,} steps",
            train_talk,
            train_start,
            lambda: train.job is None,
            go(train),
            train_check,
            cancel=train.stop,
            timeout_s=120 + 2.0 * s.steps,
        ),
        Stage(
            "prompt",
            "Writing a few-shot prompt",
            prompt_talk,
            prompt_start,
            lambda: True,
            go(prompt),
            prompt_check,
        ),
        Stage(
            "generate",
            f"Generating up to {s.max_new_tokens} tokens",
            generate_talk,
            generate_start,
            lambda: not generate.is_busy(),
            go(generate),
            generate_check,
            cancel=generate.stop,
            timeout_s=180,
        ),
        Stage(
            "attention",
            "Looking at the attention of a short sentence",
            attention_talk,
            attention_start,
            attention.is_idle,
            attention_show,
            attention_check,
            cancel=lambda: attention.stop_and_wait(2000),
            timeout_s=120,
        ),
    ]
