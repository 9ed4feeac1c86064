"""Text to text: task files to (input, target) token ids with a prefix and </s>, cuts with a notice,
a held-out split, task files with missing references, and the shipped task sets."""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path

import pytest
from sample_text import sentences  # tests/ is on sys.path

from playground.core.corpus import corpus_from_text
from playground.core.progress import UserError, run_quietly
from playground.core.t5_tokens import t5_tokens, with_t5_tokens
from playground.core.task_eval import IncompleteExamples, TaskExample, builtin_tasks, load_task
from playground.core.text_to_text import (
    TASK_SETS,
    CutText,
    collate,
    encode_pairs,
    held_out_split,
    task_set,
    text_to_text_dir,
)
from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tokenizer() -> LoadedTokenizer:
    spec = spec_for_kind("bpe", vocab_size=300)
    plain = LoadedTokenizer(run_quietly(train_in_process(corpus_from_text(sentences(100)), spec)), spec=spec)
    return with_t5_tokens(plain, n_sentinels=4)


PAIRS = [TaskExample("the cat sat", "sat cat the"), TaskExample("a red dog", "dog red a")]


def test_pairs_get_the_prefix_and_end_with_eos(tokenizer):
    tokens = t5_tokens(tokenizer)
    data = encode_pairs(PAIRS, tokenizer, tokens, prefix="reverse: ")
    assert len(data) == 2 and data.cuts == () and data.prefix == "reverse: "
    first = data.examples[0]
    assert list(first.input_ids) == tokenizer.encode_ids(["reverse: the cat sat"])[0] + [tokens.eos]
    assert list(first.target_ids) == tokenizer.encode_ids(["sat cat the"])[0] + [tokens.eos]
    assert tokenizer.decode(list(first.target_ids)) == "sat cat the"  # </s> is special: decoding leaves it out


def test_a_long_input_is_cut_at_the_end_with_a_notice(tokenizer):
    tokens = t5_tokens(tokenizer)
    long = TaskExample("the cat sat on the mat and then it ran to the red house", "short")
    data = encode_pairs([PAIRS[0], long], tokenizer, tokens, prefix="reverse: ", encoder_context=12)
    full = tokenizer.encode_ids(["reverse: " + long.input])[0]
    cut = data.examples[1].input_ids
    assert len(cut) == 12 and list(cut) == full[:11] + [tokens.eos]  # the prefix and the beginning stay
    assert data.cuts == (CutText(example=2, part="input", tokens=len(full) + 1, kept=12),)
    assert data.cuts[0].sentence == (
        f"Example 2's input is {len(full) + 1} tokens long with </s>, but the encoder reads at most 12: "
        f"its last {len(full) + 1 - 12} tokens were cut off."
    )
    short = encode_pairs([long], tokenizer, tokens, decoder_context=2)
    assert short.cuts[0].part == "reference" and len(short.examples[0].target_ids) == 2
    assert "the decoder reads at most 2" in short.cuts[0].sentence
    with pytest.raises(UserError, match="encoder's context must hold at least 2 tokens"):
        encode_pairs(PAIRS, tokenizer, tokens, encoder_context=1)
    with pytest.raises(UserError, match="no examples to encode"):
        encode_pairs([], tokenizer, tokens)


def test_encoded_pairs_collate_with_pad_and_ignored_labels(tokenizer):
    tokens = t5_tokens(tokenizer)
    data = encode_pairs([TaskExample("a", "the cat sat on the mat"), PAIRS[1]], tokenizer, tokens)
    batch = collate(data.examples, tokens)
    lengths = [len(e.target_ids) for e in data.examples]
    assert batch.labels.shape == (2, max(lengths))
    assert (batch.labels[1, lengths[1] :] == -100).all() and (batch.labels[0] != -100).all()
    assert (batch.input_ids[0, batch.attention_mask[0] == 0] == tokens.pad).all()
    assert batch.decoder_input_ids[:, 0].tolist() == [tokens.pad, tokens.pad]


def test_the_held_out_split_is_fixed_and_keeps_an_input_on_one_side():
    examples = [TaskExample(f"q{n % 90}", f"a{n}") for n in range(100)]  # ten inputs asked twice
    train, held = held_out_split(examples)
    assert (train, held) == held_out_split(list(examples))  # the same every time
    assert len(held) in (10, 11) and len(train) + len(held) == 100
    assert not {e.input for e in train} & {e.input for e in held}
    assert train == [e for e in examples if e in train]  # the file's order is kept
    assert held_out_split(examples, seed=1) != (train, held)
    tiny_train, tiny_held = held_out_split(PAIRS)
    assert len(tiny_train) == len(tiny_held) == 1
    with pytest.raises(UserError, match="at least two different inputs"):
        held_out_split([PAIRS[0], PAIRS[0]])
    with pytest.raises(UserError, match="above 0 and below 1"):
        held_out_split(examples, share=1.0)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_task_file_with_missing_or_empty_references_names_every_row(tmp_path):
    csv = write(tmp_path / "pairs.csv", "input,reference\na,b\nc,\nd\ne, \nf,g\n,h\n")
    with pytest.raises(IncompleteExamples) as raised:
        load_task(csv)
    assert str(raised.value) == (
        "4 examples of pairs.csv lack an input or a reference (line 3: empty reference; line 4: no reference; "
        "line 5: empty reference; line 7: empty input). Every example needs both: fill them in, or delete those lines."
    )
    assert [(p.row, p.key, p.empty) for p in raised.value.problems][:2] == [
        ("Line 3", "reference", True),
        ("Line 4", "reference", False),
    ]
    lines = [json.dumps({"input": str(n)} if n % 2 else {"input": str(n), "reference": "x"}) for n in range(30)]
    with pytest.raises(IncompleteExamples, match=r"15 examples of pairs.jsonl .* line 20: no reference; and 5 more\)"):
        load_task(write(tmp_path / "pairs.jsonl", "\n".join(lines)))
    one = write(tmp_path / "one.jsonl", '{"input": "a", "reference": "b"}\n{"input": "c", "reference": ""}\n')
    with pytest.raises(UserError, match=r"^Line 2 of one.jsonl has an empty reference\. Every example needs"):
        load_task(one)
    listed = write(tmp_path / "listed.json", json.dumps([{"input": "a"}, {"input": "b", "reference": "c"}]))
    with pytest.raises(IncompleteExamples, match="Item 1 of listed.json has no reference"):
        load_task(listed)


# -- the shipped task sets ------------------------------------------------------------------------------


def make_task_sets():
    spec = importlib.util.spec_from_file_location("make_task_sets", REPO / "scripts" / "make_task_sets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_script_writes_exactly_the_committed_files(tmp_path):
    script = make_task_sets()
    assert script.main(["--out", str(tmp_path)]) == 0
    written = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in text_to_text_dir().iterdir()}
    assert written == committed
    assert sorted(script.task_sets()) == sorted(t.key for t in TASK_SETS)
    assert script.files(seed=1) != script.files()  # the seed matters, and is the only thing that does


def test_evaluate_s_reader_opens_every_set_and_no_held_out_input_is_trained_on():
    for shipped in TASK_SETS:
        train, held = shipped.load()
        assert len(train) == 900 and len(held) == 100
        assert len({e.input for e in train + held}) == 1000
        assert all("\n" not in e.reference for e in train + held)  # Evaluate cuts answers at a line break
        assert shipped.prefix.endswith(": ") and task_set(shipped.key) is shipped
    with pytest.raises(UserError, match="choose one of reverse-words, numbers-to-words, infix-to-postfix"):
        task_set("nothing")
    # In a folder of their own: Evaluate's list of short example tasks is unchanged.
    assert [t.name for t in builtin_tasks()] == ["Sentiment", "Translation", "Questions", "Python phrases"]


def shunting_yard(expression: str) -> str:
    """Infix to postfix by Dijkstra's algorithm (left-associative + - *), to check the shipped answers."""
    out, stack = [], []
    for token in re.findall(r"\d|[-+*()]", expression):
        if token.isdigit():
            out.append(token)
        elif token == "(":
            stack.append(token)
        elif token == ")":
            while stack[-1] != "(":
                out.append(stack.pop())
            stack.pop()
        else:
            rank = {"+": 1, "-": 1, "*": 2}
            while stack and stack[-1] != "(" and rank[stack[-1]] >= rank[token]:
                out.append(stack.pop())
            stack.append(token)
    return " ".join(out + stack[::-1])


def test_the_answers_are_right():
    train, held = task_set("infix-to-postfix").load()
    assert all(shunting_yard(e.input) == e.reference for e in train + held)
    train, held = task_set("numbers-to-words").load()
    words = {int(e.input): e.reference for e in train + held}
    assert sorted(words) == list(range(1000))
    assert [words[n] for n in (0, 13, 40, 99, 100, 110, 421, 999)] == [
        "zero", "thirteen", "forty", "ninety-nine", "one hundred", "one hundred ten",
        "four hundred twenty-one", "nine hundred ninety-nine",
    ]  # fmt: skip
    train, held = task_set("reverse-words").load()
    assert all(e.reference.split() == e.input.split()[::-1] and 2 <= len(e.input.split()) <= 6 for e in train + held)


def test_the_task_sets_travel_in_the_wheel_and_the_frozen_app():
    """The wheel carries the whole resources folder (pyproject's force-include), PyInstaller too (the spec)."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    included = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included["resources"] == "playground/_app/resources"
    assert text_to_text_dir().relative_to(REPO / "resources") == Path("tasks/text-to-text")
    assert '(str(REPO / "resources"), "resources")' in (REPO / "packaging" / "llm-playground.spec").read_text()
