"""Prompt templates: exact rendering for every mode, files, and what the context cuts."""

from __future__ import annotations

import json
import re
import time

import pytest

from playground.core.progress import UserError
from playground.core.prompts import (
    MODES,
    PART_KINDS,
    Example,
    PromptTemplate,
    builtin_templates,
    fit_prompt,
    generation_reserve,
    load_template,
    prompt_token_starts,
    save_template,
    to_toml,
)


def make_template(**changes) -> PromptTemplate:
    values = dict(
        name="Colours",
        instruction="Name the colour.",
        examples=[
            Example("sky", "blue", "the sky is blue"),
            Example("grass", "green", "grass is green"),
            Example("snow", "white", "snow is white"),
            Example("coal", "black", "coal is black"),
        ],
        input="blood",
        k=2,
    )
    values.update(changes)
    return PromptTemplate(**values)


# -- rendering -------------------------------------------------------------------------------


def test_zero_shot():
    assert make_template().render("zero-shot").text == "Name the colour.\n\nInput: blood\nOutput:"


def test_one_shot():
    assert make_template().render("one-shot").text == (
        "Name the colour.\n\nInput: sky\nOutput: blue\n\nInput: blood\nOutput:"
    )


def test_few_shot_uses_the_first_k():
    assert make_template().render("few-shot").text == (
        "Name the colour.\n\nInput: sky\nOutput: blue\n\nInput: grass\nOutput: green\n\nInput: blood\nOutput:"
    )
    three = make_template(k=3).render("few-shot")
    assert three.examples == [0, 1, 2]
    assert three.text.count("Output:") == 4
    # k beyond the examples uses all of them; k = 0 uses none.
    assert make_template(k=10).render("few-shot").examples == [0, 1, 2, 3]
    assert make_template(k=0).render("few-shot").text == make_template().render("zero-shot").text


def test_chain_of_thought():
    assert make_template().render("chain-of-thought").text == (
        "Name the colour.\n\n"
        "Input: sky\nReasoning: the sky is blue\nOutput: blue\n\n"
        "Input: grass\nReasoning: grass is green\nOutput: green\n\n"
        "Input: blood\nReasoning:"
    )


def test_instruction_mode_is_the_plain_request():
    assert make_template().render("instruction").text == "Name the colour.\n\nblood"


def test_default_mode_and_input_and_overrides():
    t = make_template(mode="one-shot")
    assert t.render().text == t.render("one-shot").text
    assert t.render(input="milk").text.endswith("Input: milk\nOutput:")
    assert t.input == "blood"  # rendering changes nothing


def test_no_instruction_and_custom_separators():
    t = make_template(instruction="", example_separator="\n---\n", k=2)
    assert t.render("few-shot").text == (
        "Input: sky\nOutput: blue\n---\nInput: grass\nOutput: green\n---\nInput: blood\nOutput:"
    )
    t = make_template(instruction_separator="\n", example_separator="")
    assert t.render("few-shot").text == (
        "Name the colour.\nInput: sky\nOutput: blueInput: grass\nOutput: greenInput: blood\nOutput:"
    )
    assert all(p.text for p in t.render("few-shot").parts)  # an empty separator makes no part


def test_disabled_examples_are_skipped():
    t = make_template()
    t.examples[0].enabled = False
    assert t.render("one-shot").text == "Name the colour.\n\nInput: grass\nOutput: green\n\nInput: blood\nOutput:"
    assert t.render("few-shot").examples == [1, 2]
    for e in t.examples:
        e.enabled = False
    assert t.render("few-shot").text == "Name the colour.\n\nInput: blood\nOutput:"


def test_parts_cover_the_text_in_order():
    r = make_template().render("few-shot")
    assert [p.kind for p in r.parts] == [
        "instruction",
        "separator",
        "example",
        "separator",
        "example",
        "separator",
        "query",
    ]
    assert {p.kind for p in r.parts} <= set(PART_KINDS)
    assert [p.example for p in r.parts if p.kind == "example"] == [0, 1]
    offset = 0
    for p in r.parts:
        assert p.start == offset and p.end == offset + len(p.text)
        assert r.text[p.start : p.end] == p.text
        offset = p.end
    assert offset == len(r.text)
    assert r.part_at(0).kind == "instruction"
    assert r.part_at(r.parts[2].start + 3).example == 0
    assert r.part_at(len(r.text) - 1).kind == "query"
    assert r.part_at(len(r.text)) is None and r.part_at(-1) is None


def test_custom_formats_and_literal_braces():
    t = make_template(example_format="{{{input}}} -> {output}", query_format="{{{input}}} ->", k=1)
    assert t.render("few-shot").text == "Name the colour.\n\n{sky} -> blue\n\n{blood} ->"


def test_braces_in_text_are_safe():
    t = make_template(
        instruction="Fill {output} and {0} in {{x}}",
        examples=[Example("{input}", "{reasoning}", "{", True)],
        input="} {oops",
        k=1,
    )
    assert t.render("chain-of-thought").text == (
        "Fill {output} and {0} in {{x}}\n\nInput: {input}\nReasoning: {\nOutput: {reasoning}\n\n"
        "Input: } {oops\nReasoning:"
    )


def test_unknown_placeholder_is_named():
    t = make_template(example_format="Q: {input}\nA: {answer}")
    with pytest.raises(UserError) as e:
        t.render("few-shot")
    message = str(e.value)
    assert "{answer}" in message and "example format" in message
    assert "{input}" in message and "{output}" in message and "{reasoning}" in message
    # A query has no output yet.
    with pytest.raises(UserError, match=r"query format names \{output\}"):
        make_template(query_format="Q: {input} A: {output}").render()
    with pytest.raises(UserError, match=r"\{\}"):
        make_template(cot_format="{} {input}").render()
    with pytest.raises(UserError, match="stray brace"):
        make_template(example_format="Input: {input").render()
    with pytest.raises(UserError, match=r"\{input\}"):
        make_template(example_format="{input!r}").render()


def test_unknown_mode():
    with pytest.raises(UserError, match="few-shot"):
        make_template().render("many-shot")
    with pytest.raises(UserError):
        make_template().with_mode("many-shot")


def test_with_mode_is_a_copy():
    t = make_template()
    c = t.with_mode("zero-shot")
    assert c.mode == "zero-shot" and t.mode == "few-shot"
    c.examples[0].input = "changed"
    assert t.examples[0].input == "sky"


# -- files -------------------------------------------------------------------------------------


TRICKY = 'quote " backslash \\ tab \t newline \n cr \r bell \x07 del \x7f unicode é 🙂 {braces} """'


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_round_trip(tmp_path, suffix):
    t = make_template(
        description=TRICKY,
        instruction="Line one\nLine two",
        input=TRICKY,
        example_separator="\n---\n",
        mode="chain-of-thought",
        k=3,
    )
    t.examples[1].enabled = False
    t.examples.append(Example(TRICKY, "'single' \"double\"", "a\\nb"))
    path = tmp_path / f"template{suffix}"
    save_template(t, path)
    assert load_template(path) == t
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    # Saving over an existing file replaces it.
    t.name = "Second"
    save_template(t, path)
    assert load_template(path).name == "Second"


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_a_template_saved_with_a_byte_order_mark_opens(tmp_path, suffix):
    """Windows Notepad starts a UTF-8 file with a byte-order mark."""
    path = tmp_path / f"template{suffix}"
    save_template(make_template(), path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_template(path) == make_template()


def test_a_hostile_template_is_a_sentence(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("name = " + "[" * 50_000 + "]" * 50_000, encoding="utf-8")
    with pytest.raises(UserError, match="deep.toml nests lists or tables more than 100 levels deep"):
        load_template(path)


def test_toml_is_readable():
    text = to_toml(make_template(instruction='Say "hi"\nthen stop').to_dict())
    assert 'instruction = "Say \\"hi\\"\\nthen stop"' in text
    assert text.count("[[examples]]") == 4
    assert "version = 1" in text


def test_to_dict_has_a_version():
    data = make_template().to_dict()
    assert data["version"] == 1
    assert PromptTemplate.from_dict(data) == make_template()
    assert PromptTemplate.from_dict(json.loads(json.dumps(data))) == make_template()


def test_unknown_keys_are_named(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('name = "x"\ncolour = "red"\nshots = 3\n', encoding="utf-8")
    with pytest.raises(UserError) as e:
        load_template(path)
    assert "t.toml" in str(e.value) and "'colour'" in str(e.value) and "'shots'" in str(e.value)
    assert "instruction" in str(e.value)  # the known keys are listed
    path.write_text('name = "x"\n[[examples]]\ninput = "a"\noutput = "b"\nanswer = "c"\n', encoding="utf-8")
    with pytest.raises(UserError, match="Example 1 has unknown key 'answer'"):
        load_template(path)


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("bad.toml", 'name = "x\n', "not valid TOML"),
        ("bad.json", '{"name": ', "not valid JSON"),
        ("list.json", '["name"]', "table"),
        ("types.toml", 'name = "x"\nk = "three"\n', "whole number"),
        ("types2.toml", "name = 3\n", "must be text"),
        ("examples.toml", 'name = "x"\nexamples = "none"\n', "list of tables"),
        ("noout.toml", 'name = "x"\n[[examples]]\ninput = "a"\n', "Example 1 has no output"),
        ("noname.toml", 'mode = "few-shot"\n', "no name"),
        ("mode.toml", 'name = "x"\nmode = "lots-of-shots"\n', "Unknown prompt mode"),
        ("newer.json", '{"version": 99, "name": "x"}', "newer version"),
        ("format.toml", 'name = "x"\nexample_format = "{input} => {answer}"\n', "{answer}"),
        ("binary.toml", None, "not UTF-8"),
        ("template.txt", 'name = "x"\n', ".toml or .json"),
    ],
)
def test_malformed_files_name_the_file(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is None:
        path.write_bytes(b"\xff\xfe\x00name")
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError) as e:
        load_template(path)
    assert name in str(e.value)
    assert expected in str(e.value)


def test_missing_file_and_bad_save_suffix(tmp_path):
    with pytest.raises(UserError, match="missing.toml"):
        load_template(tmp_path / "missing.toml")
    with pytest.raises(UserError, match=r"\.toml or \.json"):
        save_template(make_template(), tmp_path / "t.yaml")


def test_every_shipped_template_loads_and_renders():
    templates = builtin_templates()
    assert len(templates) >= 5
    assert len({t.name for t in templates}) == len(templates)
    for t in templates:
        assert t.description and t.input
        assert t.instruction or t.name == "Python phrases"  # a plain continuation needs none
        assert 4 <= len(t.examples) <= 6
        assert all(e.reasoning for e in t.examples), t.name  # chain-of-thought has steps to show
        for mode in MODES:
            r = t.render(mode)
            cue = (
                t.query_format.replace("{input}", t.input)
                if mode != "chain-of-thought"
                else t.cot_query_format.replace("{input}", t.input)
            )
            assert r.text.endswith(t.input if mode == "instruction" else cue), (t.name, mode)
            assert "{" not in r.text and "}" not in r.text
        assert len(t.render("few-shot").examples) == min(t.k, len(t.examples))


# -- fitting the context --------------------------------------------------------------------------


def char_tokens(text: str) -> list[int]:
    """One token per character: easy offsets to reason about."""
    return list(range(len(text)))


def test_fit_when_it_fits():
    r = make_template().render("few-shot")
    fit = fit_prompt(r, char_tokens(r.text), len(r.text))
    assert fit.fits and fit.cut_tokens == 0 and fit.cut_parts == [] and fit.message() == ""
    assert fit.n_tokens == len(r.text)


def test_fit_cuts_from_the_left():
    r = make_template(k=2).render("few-shot")
    instruction, _, ex1, sep, ex2, _, query = r.parts
    # Keep everything from the middle of example 2 onwards.
    keep_from = ex2.start + 4
    fit = fit_prompt(r, char_tokens(r.text), len(r.text) - keep_from)
    assert not fit.fits and fit.cut_tokens == keep_from and fit.cut_chars == keep_from
    assert [(p.kind, p.example, whole) for p, whole in fit.cut_parts] == [
        ("instruction", None, True),
        ("separator", None, True),
        ("example", 0, True),
        ("separator", None, True),
        ("example", 1, False),
    ]
    assert fit.message() == (
        f"The prompt has {len(r.text)} tokens but the model reads {len(r.text) - keep_from}: "
        f"the first {keep_from} are cut, which removes the instruction, example 1 and part of example 2. "
        "Use fewer or shorter examples (a smaller k, or one-shot)."
    )


def test_fit_with_real_token_offsets():
    r = make_template().render("one-shot")
    words = [i for i, ch in enumerate(r.text) if i == 0 or (r.text[i - 1] in " \n" and ch not in " \n")]
    fit = fit_prompt(r, words, len(words) - 1)
    assert fit.cut_tokens == 1
    assert fit.message().startswith(
        f"The prompt has {len(words)} tokens but the model reads {len(words) - 1}: "
        "the first token is cut, which removes part of the instruction."
    )
    assert fit.message().endswith("Shorten the instruction.")


def test_fit_when_even_the_query_is_cut():
    r = make_template().render("zero-shot")
    fit = fit_prompt(r, char_tokens(r.text), 3)
    assert [p.kind for p, _ in fit.cut_parts] == ["instruction", "separator", "query"]
    assert fit.cut_parts[-1][1] is False
    assert "part of the query" in fit.message() and "shorten it" in fit.message()
    nothing = fit_prompt(r, char_tokens(r.text), 0)
    assert nothing.cut_chars == len(r.text) and all(whole for _, whole in nothing.cut_parts)


def test_generation_reserve():
    assert generation_reserve(128) == 32
    assert generation_reserve(1024) == 64
    assert generation_reserve(8) == 2


class _Tokenizer:
    """Stands in for a LoadedTokenizer: one token per word (and per run of spaces or line breaks),
    and it counts how many characters it was given."""

    def __init__(self) -> None:
        self.chars = 0

    def token_starts(self, text: str) -> list[int]:
        self.chars += len(text)
        return [m.start() for m in re.finditer(r"\S+|\s+", text)]


def test_huge_prompt_is_not_tokenized_whole():
    """A multi-MB template: only the end the model reads is tokenized, and the cut is where
    the whole text's tokens put it."""
    line = "The quick brown fox jumps over the lazy dog, 1234 times.\n"
    r = make_template(instruction=line * (8_000_000 // len(line))).render("few-shot")
    tok = _Tokenizer()
    started = time.perf_counter()
    starts, exact = prompt_token_starts(tok, r.text, 960)
    seconds = time.perf_counter() - started
    assert not exact and len(starts) > 960 and tok.chars < 100_000 and seconds < 1.0
    assert starts[-960:] == _Tokenizer().token_starts(r.text)[-960:]
    fit = fit_prompt(r, starts, 960, exact)
    assert not fit.fits and not fit.exact
    assert fit.cut_chars == _Tokenizer().token_starts(r.text)[-960]
    assert fit.message().startswith(
        f"The prompt has more than {len(starts):,} tokens but the model reads 960: "
        "all but the last 960 are cut, which removes part of the instruction."
    )


def test_prompt_token_starts_counts_a_short_prompt_whole():
    r = make_template().render("few-shot")
    starts, exact = prompt_token_starts(_Tokenizer(), r.text, 960)
    assert exact and starts == _Tokenizer().token_starts(r.text)
    assert prompt_token_starts(_Tokenizer(), r.text, None) == (starts, True)


def test_prompt_token_starts_grows_the_tail_for_long_tokens():
    """Tokens far longer than a generous guess (one word of 100 characters each): the tail grows
    until it holds the window, and the last tokens still match the whole text's."""
    text = " ".join(["x" * 100] * 20_000)
    starts, exact = prompt_token_starts(_Tokenizer(), text, 500)
    assert not exact and len(starts) > 500
    assert starts[-500:] == _Tokenizer().token_starts(text)[-500:]


def test_prompt_token_starts_without_a_window_counts_the_end_only():
    text = "word " * 1_000_000
    tok = _Tokenizer()
    starts, exact = prompt_token_starts(tok, text, None)
    assert not exact and tok.chars <= 300_000 and starts[-10:] == _Tokenizer().token_starts(text)[-10:]
