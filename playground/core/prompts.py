"""Prompt templates: an instruction, worked examples and a query, rendered into the text a model continues.

A language model only continues text, so a task is posed by writing the start
of a document whose natural continuation is the answer. A `PromptTemplate`
holds the named parts of such a document; `PromptTemplate.render` lays them
out for one of five modes and remembers where each part lies in the text, so
the window can colour the parts and say which of them the context cuts off.

Rendering rules (the tests check them to the character):

1. The **instruction**, when it is not empty, comes first, followed by
   `instruction_separator`. Every mode keeps it.
2. Then the **examples**, each formatted with `example_format` and joined by
   `example_separator`; after the last one comes `example_separator` again.
   Which examples, by mode:

   - ``zero-shot``: none.
   - ``one-shot``: the first enabled example.
   - ``few-shot``: the first `k` enabled examples (all of them when fewer are enabled).
   - ``chain-of-thought``: the first `k` enabled examples, formatted with
     `cot_format` so that their `reasoning` comes before their output.
   - ``instruction``: none.

   Disabled examples are skipped as if absent. A mode that finds no example to
   show renders no example and no separator for them.
3. Last comes the **query**: the person's `input` formatted with
   `query_format`, which ends where the model should start writing (its
   *output prefix*, "Output:" by default). Chain-of-thought uses
   `cot_query_format` instead (by default ending in "Reasoning:"), so the model
   is cued to write its steps before the answer. Mode ``instruction`` is the
   plain request one would type to an assistant: the instruction, then the
   input exactly as written, with no query format and no output prefix. (Mode
   ``zero-shot`` differs from it only in keeping the query format.)

Separators are parts of their own (kind ``"separator"``); an empty separator
makes no part. Formats name the parts of an example as ``{input}``,
``{output}`` and ``{reasoning}`` (a query format only ``{input}``: the output
is what the model writes); ``{{`` and ``}}`` stand for literal braces. Values
are substituted verbatim, so braces inside examples or the query are safe.

Templates are saved as TOML or JSON (chosen by the file's suffix) with a
``version`` number, so an older file can be migrated rather than misread.
"""

from __future__ import annotations

import copy
import json
import math
import os
import string
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Optional, Union

from playground.core.files import MAX_TOML_BYTES, parse_json, parse_toml, read_bytes, write_text_atomic
from playground.core.progress import UserError

MODES = ("zero-shot", "one-shot", "few-shot", "chain-of-thought", "instruction")
PART_KINDS = ("instruction", "example", "query", "separator")
TEMPLATE_VERSION = 1
TEMPLATE_SUFFIXES = (".toml", ".json")

MODE_LABELS = {
    "zero-shot": "Zero-shot",
    "one-shot": "One-shot",
    "few-shot": "Few-shot",
    "chain-of-thought": "Chain of thought",
    "instruction": "Plain instruction",
}
MODE_HELP = {
    "zero-shot": "No examples: the instruction and the query alone. The model has to guess the task "
    "and the form of the answer from the words.",
    "one-shot": "One worked example before the query: it shows the form an answer takes.",
    "few-shot": "The first k enabled examples before the query: the model copies the pattern. More "
    "examples usually help, until the prompt no longer fits the context.",
    "chain-of-thought": "The first k enabled examples with their reasoning written out, and the query "
    "cued to reason first: the model writes steps before its answer.",
    "instruction": "The instruction and the input as plain text, with no examples and no output prefix: "
    "how one asks a chat assistant. A small base model was never taught to obey, "
    "so it often just continues the text.",
}

EXAMPLE_FIELDS = ("input", "output", "reasoning")
# The placeholders each format may name; a query has no output yet.
FORMAT_PLACEHOLDERS = {
    "example_format": EXAMPLE_FIELDS,
    "cot_format": EXAMPLE_FIELDS,
    "query_format": ("input",),
    "cot_query_format": ("input",),
}
FORMAT_NAMES = {
    "example_format": "example format",
    "cot_format": "chain-of-thought format",
    "query_format": "query format",
    "cot_query_format": "chain-of-thought query format",
}

PathLike = Union[str, os.PathLike]


# -- the parts ------------------------------------------------------------------


@dataclass
class Example:
    """One worked example: an input, the output the model should learn to give, and
    (for chain-of-thought) the steps that lead from one to the other."""

    input: str
    output: str
    reasoning: str = ""
    enabled: bool = True


@dataclass
class PromptPart:
    """One named span of a rendered prompt: ``text == rendered.text[start:end]``."""

    kind: str  # one of PART_KINDS
    text: str
    start: int
    end: int
    example: Optional[int] = None  # index into template.examples, for kind "example"

    @property
    def label(self) -> str:
        """How a sentence names this part: "the instruction", "example 2", "the query"."""
        if self.kind == "example":
            assert self.example is not None, "an example part knows its example"
            return f"example {self.example + 1}"
        return f"the {self.kind}"


@dataclass
class RenderedPrompt:
    """The text a model is given, cut into its parts."""

    parts: list[PromptPart]
    mode: str = "few-shot"

    @cached_property
    def text(self) -> str:
        return "".join(p.text for p in self.parts)

    @property
    def examples(self) -> list[int]:
        """Indices (into template.examples) of the examples this prompt shows, in order."""
        return [p.example for p in self.parts if p.kind == "example" and p.example is not None]

    def part_at(self, char_offset: int) -> Optional[PromptPart]:
        """The part holding the character at ``char_offset`` (None outside the text)."""
        for part in self.parts:
            if part.start <= char_offset < part.end:
                return part
        return None


# -- formats ------------------------------------------------------------------------


def _parse_format(fmt: str, key: str) -> list[tuple[str, Optional[str]]]:
    """Split a format into (literal, placeholder) pairs, checking every placeholder."""
    allowed = FORMAT_PLACEHOLDERS[key]
    name = FORMAT_NAMES[key]
    known = ", ".join("{" + a + "}" for a in allowed)
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as e:
        raise UserError(
            f"The {name} {fmt!r} has a stray brace ({e}). Placeholders are written "
            f"{known}; write {{{{ or }}}} for a literal brace."
        ) from None
    pieces: list[tuple[str, Optional[str]]] = []
    for literal, field_name, spec, conversion in parsed:
        if field_name is None:
            pieces.append((literal, None))
            continue
        if field_name not in allowed:
            shown = "{" + field_name + "}"
            what = "an example" if key in ("example_format", "cot_format") else "a query"
            raise UserError(
                f"The {name} names {shown}, which is not a part of {what}. The parts it can name are {known}."
            )
        if spec or conversion:
            shown = "{" + field_name + ("!" + conversion if conversion else "") + (":" + spec if spec else "") + "}"
            raise UserError(f"The {name} writes {shown}: write the placeholder plainly, as {{{field_name}}}.")
        pieces.append((literal, field_name))
    return pieces


def _fill(pieces: list[tuple[str, Optional[str]]], values: dict[str, str]) -> str:
    # Substituted by hand, not str.format: a brace inside an example is just a brace.
    return "".join(literal + (values[name] if name is not None else "") for literal, name in pieces)


# -- the template ---------------------------------------------------------------------


@dataclass
class PromptTemplate:
    """A prompt with named parts; see the module docstring for how it renders."""

    name: str
    description: str = ""
    mode: str = "few-shot"
    k: int = 3
    instruction: str = ""
    examples: list[Example] = field(default_factory=list)
    input: str = ""
    example_format: str = "Input: {input}\nOutput: {output}"
    cot_format: str = "Input: {input}\nReasoning: {reasoning}\nOutput: {output}"
    query_format: str = "Input: {input}\nOutput:"
    cot_query_format: str = "Input: {input}\nReasoning:"
    instruction_separator: str = "\n\n"
    example_separator: str = "\n\n"

    def validate(self) -> None:
        """Raise UserError for an unknown mode, a negative k or a format naming an unknown part."""
        _check_mode(self.mode)
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 0:
            raise UserError(f"The number of examples k must be a whole number of 0 or more, not {self.k!r}.")
        for key in FORMAT_PLACEHOLDERS:
            _parse_format(getattr(self, key), key)

    def enabled_examples(self) -> list[int]:
        return [i for i, e in enumerate(self.examples) if e.enabled]

    def examples_for(self, mode: Optional[str] = None) -> list[int]:
        """Indices of the examples a mode shows."""
        mode = self.mode if mode is None else mode
        _check_mode(mode)
        enabled = self.enabled_examples()
        if mode == "one-shot":
            return enabled[:1]
        if mode in ("few-shot", "chain-of-thought"):
            return enabled[: max(0, self.k)]
        return []

    def render(self, mode: Optional[str] = None, input: Optional[str] = None) -> RenderedPrompt:
        """The prompt text for ``mode`` (default: the template's) and query ``input``
        (default: the template's), cut into parts."""
        mode = self.mode if mode is None else mode
        query_input = self.input if input is None else input
        self.validate()
        _check_mode(mode)
        cot = mode == "chain-of-thought"
        example_pieces = _parse_format(
            self.cot_format if cot else self.example_format, "cot_format" if cot else "example_format"
        )
        if mode == "instruction":
            query_text = query_input
        else:
            key = "cot_query_format" if cot else "query_format"
            query_text = _fill(_parse_format(getattr(self, key), key), {"input": query_input})

        chunks: list[tuple[str, str, Optional[int]]] = []  # (kind, text, example index)
        if self.instruction:
            chunks += [("instruction", self.instruction, None), ("separator", self.instruction_separator, None)]
        shown = self.examples_for(mode)
        for n, index in enumerate(shown):
            e = self.examples[index]
            text = _fill(example_pieces, {"input": e.input, "output": e.output, "reasoning": e.reasoning})
            if n:
                chunks.append(("separator", self.example_separator, None))
            chunks.append(("example", text, index))
        if shown:
            chunks.append(("separator", self.example_separator, None))
        chunks.append(("query", query_text, None))

        parts, offset = [], 0
        for kind, text, example in chunks:
            if not text and kind == "separator":
                continue
            parts.append(PromptPart(kind, text, offset, offset + len(text), example))
            offset += len(text)
        return RenderedPrompt(parts, mode)

    def with_mode(self, mode: str) -> "PromptTemplate":
        """A copy of this template set to another mode."""
        _check_mode(mode)
        t = self.copy()
        t.mode = mode
        return t

    def copy(self) -> "PromptTemplate":
        return copy.deepcopy(self)

    # -- as plain data ----------------------------------------------------------------

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"version": TEMPLATE_VERSION}
        for f in fields(self):
            if f.name == "examples":
                continue
            data[f.name] = getattr(self, f.name)
        data["examples"] = [
            {"input": e.input, "output": e.output, "reasoning": e.reasoning, "enabled": e.enabled}
            for e in self.examples
        ]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> "PromptTemplate":
        """Build and check a template from plain data; every problem is a UserError sentence."""
        if not isinstance(data, dict):
            raise UserError(f"A prompt template must be a table of named values, not a {type(data).__name__}.")
        data = dict(data)
        version = data.pop("version", TEMPLATE_VERSION)
        if isinstance(version, bool) or not isinstance(version, int):
            raise UserError(f"The template's version must be a whole number, not {version!r}.")
        if version > TEMPLATE_VERSION:
            raise UserError(
                f"This template was written by a newer version of the app (template version "
                f"{version}; this app reads up to {TEMPLATE_VERSION}). Update the app to open it."
            )
        known = [f.name for f in fields(cls)]
        unknown = [k for k in data if k not in known]
        if unknown:
            raise UserError(
                f"The template has unknown key{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(k) for k in unknown)}; the known keys are "
                f"version, {', '.join(known)}."
            )
        if "name" not in data:
            raise UserError('The template has no name: add a line such as name = "My template".')
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name == "examples":
                values["examples"] = _examples_from(value)
            elif f.name == "k":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise UserError(
                        f"The template's k (how many examples few-shot uses) must be a whole number, not {value!r}."
                    )
                values["k"] = value
            else:
                if not isinstance(value, str):
                    raise UserError(f"The template's {f.name} must be text, not {value!r}.")
                values[f.name] = value
        template = cls(**values)
        template.validate()
        return template


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise UserError(f"Unknown prompt mode {mode!r}; the modes are {', '.join(MODES)}.")


def _examples_from(value: Any) -> list[Example]:
    if not isinstance(value, list):
        raise UserError(f"The template's examples must be a list of tables, not {type(value).__name__}.")
    examples = []
    for n, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise UserError(f"Example {n} must be a table with an input and an output, not {item!r}.")
        unknown = [k for k in item if k not in ("input", "output", "reasoning", "enabled")]
        if unknown:
            raise UserError(
                f"Example {n} has unknown key{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(k) for k in unknown)}; the known keys are "
                f"input, output, reasoning, enabled."
            )
        for key in ("input", "output"):
            if key not in item:
                raise UserError(f"Example {n} has no {key}.")
        for key in ("input", "output", "reasoning"):
            if key in item and not isinstance(item[key], str):
                raise UserError(f"Example {n}'s {key} must be text, not {item[key]!r}.")
        enabled = item.get("enabled", True)
        if not isinstance(enabled, bool):
            raise UserError(f"Example {n}'s enabled must be true or false, not {enabled!r}.")
        examples.append(Example(item["input"], item["output"], item.get("reasoning", ""), enabled))
    return examples


# -- fitting a prompt into the context ------------------------------------------------------


@dataclass
class PromptFit:
    """How a prompt fares against the number of tokens the model reads."""

    n_tokens: int
    window: int  # tokens the model reads for the prompt
    fits: bool
    cut_tokens: int  # tokens dropped from the left
    cut_parts: list[tuple[PromptPart, bool]]  # (part, wholly cut) for each part that loses text
    cut_chars: int = 0  # the text before this offset is cut
    exact: bool = True  # False: a huge text, only its tail counted; n_tokens is a floor

    def message(self) -> str:
        """A sentence saying what the cut removes; "" when the prompt fits."""
        if self.fits:
            return ""
        named = [(p, whole) for p, whole in self.cut_parts if p.kind != "separator"]
        removed = [p.label for p, whole in named if whole] + [f"part of {p.label}" for p, whole in named if not whole]
        what = f", which removes {_join(removed)}" if removed else ""
        if not self.exact:
            first = f"all but the last {self.window:,} are"
        else:
            first = "the first token is" if self.cut_tokens == 1 else f"the first {self.cut_tokens:,} are"
        kinds = {p.kind for p, _ in named}
        if "query" in kinds:
            advice = "Even the query does not fit: shorten it."
        elif "example" in kinds:
            advice = "Use fewer or shorter examples (a smaller k, or one-shot)."
        elif "instruction" in kinds:
            advice = "Shorten the instruction."
        else:
            advice = ""
        more = "" if self.exact else "more than "
        return (
            f"The prompt has {more}{self.n_tokens:,} tokens but the model reads {self.window:,}: "
            f"{first} cut{what}. {advice}"
        ).strip()


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def fit_prompt(rendered: RenderedPrompt, token_starts: list[int], window: int, exact: bool = True) -> PromptFit:
    """Which parts survive when the model keeps only the LAST ``window`` tokens.

    ``token_starts`` holds the character offset at which each token of
    ``rendered.text`` begins (from the tokenizer's encoding of that text);
    with ``exact`` False, only those of its last tokens (more than ``window``
    of them, as :func:`prompt_token_starts` gives for a huge text).
    """
    n = len(token_starts)
    window = max(0, int(window))
    cut = max(0, n - window)
    if cut == 0:
        return PromptFit(n, window, True, 0, [], 0, exact)
    cut_chars = len(rendered.text) if cut >= n else token_starts[cut]
    cut_parts = [(p, p.end <= cut_chars) for p in rendered.parts if p.start < cut_chars and p.end > p.start]
    return PromptFit(n, window, False, cut, cut_parts, cut_chars, exact)


TAIL_CHARS_PER_TOKEN = 16  # generous: English averages about 4 characters a token
TAIL_MIN_CHARS = 4096
TAIL_DROP_TOKENS = 4  # tokens at the cut may split differently than in the whole text
COUNT_CHARS_WITHOUT_WINDOW = 32_000  # counted on the GUI thread at every edit: kept under ~50 ms


def prompt_token_starts(tokenizer, text: str, window: Optional[int]) -> tuple[list[int], bool]:
    """Where the tokens of ``text`` begin (character offsets), and whether that is all of them.

    Only the last ``window`` tokens reach the model, so a huge text (a pasted
    book) is not tokenized whole: only its tail (see :func:`tail_cuts`).
    Without a window (no model yet) at most the last
    ``COUNT_CHARS_WITHOUT_WINDOW`` characters are counted. ``tokenizer`` is a
    :class:`~playground.core.tokenization.LoadedTokenizer`.
    """
    for cut in tail_cuts(text, window):
        starts = tokenizer.token_starts(text[cut:])[TAIL_DROP_TOKENS:]
        if window is None or len(starts) > window:
            return [cut + s for s in starts], False
    return tokenizer.token_starts(text), True


def tail_cuts(text: str, window: Optional[int]) -> Iterator[int]:
    """Character offsets from which to tokenize the end of a long ``text``, nearest the end first.

    Each tail is a generous multiple of ``window`` in characters, four times the
    last; a caller tokenizes ``text[cut:]``, drops the first ``TAIL_DROP_TOKENS``
    (they may split differently than in the whole text) and stops once it holds
    more than ``window`` tokens. Nothing is yielded for a text short enough to
    tokenize whole.
    """
    limit = COUNT_CHARS_WITHOUT_WINDOW if window is None else max(TAIL_MIN_CHARS, window * TAIL_CHARS_PER_TOKEN)
    while len(text) > limit:
        yield _next_line_start(text, len(text) - limit)
        if window is None:
            return
        limit *= 4


def _next_line_start(text: str, at: int) -> int:
    """A cut at the start of a line (or a word) near ``at``, where tokenizers split anyway."""
    for mark in ("\n", " "):
        found = text.find(mark, at, at + TAIL_MIN_CHARS)
        if found >= 0:
            return found + 1
    return at


def generation_reserve(context_length: int) -> int:
    """Tokens of the context kept free for the answer: a quarter, at most 64."""
    return min(64, max(0, context_length) // 4)


# -- files ------------------------------------------------------------------------------------


def load_template(path: PathLike) -> PromptTemplate:
    """Read a template from a .toml or .json file; every problem is a UserError naming the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TEMPLATE_SUFFIXES:
        raise UserError(f"{path.name} is not a prompt template: templates are .toml or .json files.")
    raw = read_bytes(path, "a prompt template", MAX_TOML_BYTES)
    parse = parse_toml if suffix == ".toml" else parse_json
    data = parse(raw, path.name, hint=" Fix the file or open another.")  # a byte-order mark is fine
    try:
        return PromptTemplate.from_dict(data)
    except UserError as e:
        raise UserError(f"{path.name} is not a usable prompt template: {e}") from None


def save_template(template: PromptTemplate, path: PathLike) -> None:
    """Write a template as TOML or JSON (by suffix), atomically: a crash never leaves half a file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TEMPLATE_SUFFIXES:
        raise UserError(f"Save the template as a .toml or .json file, not {path.name}.")
    data = template.to_dict()
    text = to_toml(data) if suffix == ".toml" else json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    write_text_atomic(path, text, f"the template to {path}")


def builtin_templates() -> list[PromptTemplate]:
    """The templates that ship with the app (resources/prompts), in file-name order."""
    from playground.paths import resources_dir

    folder = resources_dir() / "prompts"
    return [load_template(p) for p in sorted(folder.glob("*.toml"))]


# -- a small TOML writer for this flat structure ------------------------------------------------------


def toml_string(s: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    raise TypeError(f"cannot write {value!r} as a TOML value")


def to_toml(data: dict) -> str:
    """Top-level values, then each list of tables as [[name]] blocks (all a template needs)."""
    lines = ["# An LLM Playground prompt template."]
    tables = {}
    for key, value in data.items():
        if isinstance(value, list):
            tables[key] = value
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, rows in tables.items():
        for row in rows:
            lines.append("")
            lines.append(f"[[{key}]]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in row.items())
    return "\n".join(lines) + "\n"
