"""Task evaluation: pose a set of (input, reference) pairs through a prompt template and score the answers.

A *task* is a file of pairs: CSV with a header naming the columns ``input`` and
``reference`` (other columns are ignored), or JSON Lines, one object
``{"input": ..., "reference": ...}`` a line. `builtin_tasks` are the small
examples in resources/tasks. Examples without their input or reference, or with
an empty one, are all named in one `IncompleteExamples` once the file is read.

For each pair, the template is rendered with the input as its query (in the
mode asked for), the model continues it, and the continuation is cut into an
answer (`cut_answer`): leading white space skipped, then everything from the
first line break on dropped, then anything from a stop string on. The
templates put the answer on one line and small models ramble on past it, so
the first line is the answer; references are therefore one line too. The
model writes at most the reference's length in tokens plus `ANSWER_MARGIN`
(never more than the settings' ``max_new_tokens``); greedy by default.

The scores come from the libraries everyone uses, each on its own scale:

    BLEU       sacrebleu.corpus_bleu over all answers, 0-100, with effective order:
               n-gram orders that no answer is long enough to have are left out,
               so one-word answers that are all right score 100, not 0
    chrF       sacrebleu.corpus_chrf over all answers, 0-100 (character n-grams:
               kind to near misses and to short answers, where BLEU is often 0)
    ROUGE-1/2/L  rouge-score F-measure of each answer, averaged, 0-1 (its default
               tokenizer keeps only a-z and 0-9 after lower-casing, so accents
               and punctuation do not count)
    exact match  the share of answers equal to their reference after stripping,
               case-folding and collapsing white space, 0-1

Each answer also keeps its own chrF (sacrebleu.sentence_chrf) and ROUGE-L.

An encoder (BERT style) writes nothing, but it answers a task whose answer
is one word by filling a [MASK] at the answer's place (`fill_answer`): the
template's own [MASK] where it has one, else one put where a decoder would
start writing (after "Sentiment:"). Its top guess is the answer, scored like
any other; an answer the tokenizer splits into several tokens cannot be
guessed whole (chrF still credits a near miss).

`evaluate_task`, `compare_modes` and `ask_checkpoint` are job generators
(``playground/engine/jobs.py``): they yield `Progress` and each `TaskRow` as
it is answered, and return the scored results.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from playground.core.evaluation import read_text_file
from playground.core.files import parse_json, same_file
from playground.core.progress import CancelToken, JobGenerator, Progress, UserError
from playground.core.prompts import PromptTemplate, load_template
from playground.core.sampling import SamplingSettings

PathLike = Union[str, os.PathLike]
TASK_SUFFIXES = (".csv", ".jsonl", ".json", ".ndjson")
ANSWER_MARGIN = 8  # tokens beyond the reference's length that an answer may take
DEFAULT_SETTINGS = SamplingSettings(strategy="greedy", temperature=1.0, max_new_tokens=64)
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


# -- tasks -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskExample:
    """One question of a task and the answer it should get."""

    input: str
    reference: str


@dataclass
class Task:
    """A named list of examples, and the file they came from."""

    name: str
    examples: list[TaskExample]
    path: Optional[Path] = None

    def __len__(self) -> int:
        return len(self.examples)


def load_task(path: PathLike) -> Task:
    """Read a task from a .csv or .jsonl file; every problem is a `UserError` naming the line."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TASK_SUFFIXES:
        raise UserError(
            f"{path.name} is not a task file: use a .csv file with the columns input and reference, "
            f'or a .jsonl file with one {{"input": ..., "reference": ...}} a line.'
        )
    text = read_text_file(path, what="examples")  # missing, binary, not UTF-8 or empty: a sentence each
    if suffix == ".csv":
        examples = _parse_csv(text, path.name)
    elif suffix == ".json" and text.lstrip().startswith("["):
        examples = _parse_json_list(text, path.name)
    else:
        examples = _parse_jsonl(text, path.name)
    if not examples:
        raise UserError(f"{path.name} holds no examples: add at least one input with its reference.")
    return Task(name=task_name(path), examples=examples, path=path)


def task_name(path: Path) -> str:
    """ "1-sentiment.jsonl" -> "Sentiment": the file's name without a leading number."""
    stem = re.sub(r"^\d+[-_ ]", "", path.stem).replace("-", " ").replace("_", " ").strip()
    return (stem[:1].upper() + stem[1:]) if stem else path.stem


def _parse_csv(text: str, name: str) -> list[TaskExample]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise UserError(f"{name} is empty: it holds no examples.")
        columns = [h.strip().casefold() for h in header]
        missing = [c for c in ("input", "reference") if c not in columns]
        if missing:
            found = ", ".join(repr(h) for h in header) or "nothing"
            raise UserError(
                f"{name} has no {' and no '.join(repr(m) for m in missing)} column: its first line names "
                f"{found}. The first line of a task's CSV file names the columns, input and reference."
            )
        at_input, at_reference = columns.index("input"), columns.index("reference")
        examples: list[TaskExample] = []
        incomplete: list[MissingValue] = []
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(row) > len(header):
                raise UserError(
                    f"Line {line} of {name} has {len(row)} values but the first line names {len(header)} "
                    f"columns. Put a value that holds a comma in double quotes."
                )
            values = {
                "input": row[at_input] if at_input < len(row) else None,
                "reference": row[at_reference] if at_reference < len(row) else None,
            }
            _add_example(examples, incomplete, values, f"Line {line}", name)
    except csv.Error as e:
        raise UserError(f"{name} is not a readable CSV file (line {reader.line_num}: {e}).") from None
    return _complete(examples, incomplete, name)


def _parse_jsonl(text: str, name: str) -> list[TaskExample]:
    examples: list[TaskExample] = []
    incomplete: list[MissingValue] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        item = parse_json(
            line,
            f"Line {number} of {name}",
            hint=' Each line holds one object such as {"input": "...", "reference": "..."}.',
        )
        _add_example(examples, incomplete, item, f"Line {number}", name)
    return _complete(examples, incomplete, name)


def _parse_json_list(text: str, name: str) -> list[TaskExample]:
    items = parse_json(text, name)
    examples: list[TaskExample] = []
    incomplete: list[MissingValue] = []
    for n, item in enumerate(items, start=1):
        _add_example(examples, incomplete, item, f"Item {n}", name)
    return _complete(examples, incomplete, name)


class MissingValue(UserError):
    """An example without its input or reference, or with an empty one."""

    def __init__(self, row: str, name: str, key: str, empty: bool) -> None:
        self.row, self.key, self.empty = row, key, empty  # "Line 3", "reference", True
        super().__init__(f"{row} of {name} has {'an empty' if empty else 'no'} {key}.")

    @property
    def short(self) -> str:
        """ "line 3: empty reference" """
        return f"{self.row[:1].lower()}{self.row[1:]}: {'empty' if self.empty else 'no'} {self.key}"


class IncompleteExamples(UserError):
    """Every example of a task file that lacks its input or reference (or has an empty one), named:
    a file is read to its end first, so one message lists them all."""

    SHOWN = 10

    def __init__(self, name: str, problems: Sequence[MissingValue]) -> None:
        self.problems = tuple(problems)
        if len(problems) == 1:
            message = f"{problems[0]} Every example needs an input and a reference."
        else:
            listed = "; ".join(p.short for p in problems[: self.SHOWN])
            more = f"; and {len(problems) - self.SHOWN} more" if len(problems) > self.SHOWN else ""
            message = (
                f"{len(problems)} examples of {name} lack an input or a reference ({listed}{more}). "
                "Every example needs both: fill them in, or delete those lines."
            )
        super().__init__(message)


def _add_example(
    examples: list[TaskExample], incomplete: list[MissingValue], item: object, row: str, name: str
) -> None:
    try:
        examples.append(_example(item, row, name))
    except MissingValue as missing:
        incomplete.append(missing)


def _complete(examples: list[TaskExample], incomplete: list[MissingValue], name: str) -> list[TaskExample]:
    if incomplete:
        raise IncompleteExamples(name, incomplete)
    return examples


def _example(item: object, row: str, name: str) -> TaskExample:
    where = f"{row} of {name}"
    if not isinstance(item, dict):
        raise UserError(
            f'{where} is not an object with an input and a reference: expected {{"input": "...", "reference": "..."}}.'
        )
    values = {}
    for key in ("input", "reference"):
        value = item.get(key)
        if value is None:
            raise MissingValue(row, name, key, empty=False)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # {"reference": 5} means the text "5"
        if not isinstance(value, str):
            raise UserError(f"{where} has a {key} that is not text: {value!r}.")
        if not value.strip():
            raise MissingValue(row, name, key, empty=True)
        values[key] = value
    return TaskExample(values["input"], values["reference"])


def tasks_dir() -> Path:
    from playground.paths import resources_dir

    return resources_dir() / "tasks"


def builtin_tasks() -> list[Task]:
    """The example tasks that ship with the app (resources/tasks), in file-name order."""
    return [load_task(p) for p in sorted(tasks_dir().glob("*.jsonl"))]


def builtin_task(name: str) -> Optional[Task]:
    """The shipped task called `name` ("sentiment", "1-sentiment" or "Sentiment"), if there is one."""
    wanted = name.strip().casefold()
    for path in sorted(tasks_dir().glob("*.jsonl")):
        bare = re.sub(r"^\d+[-_ ]", "", path.stem)
        if wanted in {path.stem.casefold(), path.name.casefold(), bare.casefold(), task_name(path).casefold()}:
            return load_task(path)
    return None


def continuation_template() -> PromptTemplate:
    """A template that asks for nothing: the input is the prompt and the model just goes on."""
    return PromptTemplate(
        name="Continue the text",
        mode="zero-shot",
        k=0,
        query_format="{input}",
        description="The input alone, for tasks that complete a phrase.",
    )


def template_for(task: Task) -> PromptTemplate:
    """The template a task is meant for.

    A template file beside the task with the same name (.toml or .json); else
    the shipped template in resources/prompts with the same name (1-sentiment.jsonl
    goes with 1-sentiment.toml); else `continuation_template`.
    """
    if task.path is not None:
        from playground.paths import resources_dir

        stem = task.path.stem
        for folder in (task.path.parent, resources_dir() / "prompts"):
            for suffix in (".toml", ".json"):
                candidate = folder / (stem + suffix)
                # A task saved as .json is not its own template.
                if candidate.is_file() and not same_file(candidate, task.path):
                    return load_template(candidate)
    return continuation_template()


# -- scoring ---------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """What exact match compares: white space trimmed and collapsed, case folded."""
    return " ".join(text.casefold().split())


def is_exact(output: str, reference: str) -> bool:
    return normalise(output) == normalise(reference)


@dataclass(frozen=True)
class TaskScores:
    """Scores of a list of answers against their references (scales in the module docstring)."""

    count: int
    bleu: float
    chrf: float
    rouge1: float
    rouge2: float
    rouge_l: float
    exact_match: float

    def to_dict(self) -> dict:
        return asdict(self)


def rouge_scorer():
    """rouge-score's scorer for ROUGE-1, ROUGE-2 and ROUGE-L, without stemming."""
    from rouge_score import rouge_scorer as rs

    return rs.RougeScorer(list(ROUGE_TYPES), use_stemmer=False)


def score_outputs(outputs: Sequence[str], references: Sequence[str]) -> TaskScores:
    """BLEU, chrF, ROUGE and exact match of `outputs` against `references` (equally many)."""
    import sacrebleu

    outputs, references = list(outputs), list(references)
    if len(outputs) != len(references):
        raise ValueError(f"{len(outputs)} outputs but {len(references)} references")
    if not outputs:
        raise UserError("There are no answers to score.")
    scorer = rouge_scorer()
    rouge = [scorer.score(ref, out) for out, ref in zip(outputs, references)]
    n = len(outputs)
    return TaskScores(
        count=n,
        bleu=sacrebleu.corpus_bleu(outputs, [references], use_effective_order=True).score,
        chrf=sacrebleu.corpus_chrf(outputs, [references]).score,
        rouge1=sum(r["rouge1"].fmeasure for r in rouge) / n,
        rouge2=sum(r["rouge2"].fmeasure for r in rouge) / n,
        rouge_l=sum(r["rougeL"].fmeasure for r in rouge) / n,
        exact_match=sum(is_exact(o, r) for o, r in zip(outputs, references)) / n,
    )


# -- running a task ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskRow:
    """One example as the model answered it (also the partial result of a running task).

    raw: everything the model wrote; output: the answer cut from it (`cut_answer`).
    exact, chrf (0-100), rouge_l (0-1): this answer's scores.
    prompt_tokens: the prompt's length; cut_tokens: how many were cut off the
    front because the prompt was longer than the context.
    """

    index: int
    mode: str
    input: str
    reference: str
    output: str
    raw: str
    exact: bool
    chrf: float
    rouge_l: float
    prompt_tokens: int = 0
    cut_tokens: int = 0


@dataclass
class TaskResult:
    """A task run through a template in one mode: every answer and the scores of all of them."""

    template: str
    mode: str
    rows: list[TaskRow]
    scores: TaskScores
    seconds: float = 0.0
    task: str = ""
    settings: SamplingSettings = field(default_factory=lambda: DEFAULT_SETTINGS)

    def to_dict(self) -> dict:
        return {
            "task": self.task,
            "template": self.template,
            "mode": self.mode,
            "seconds": self.seconds,
            "scores": self.scores.to_dict(),
            "rows": [asdict(r) for r in self.rows],
        }


def cut_answer(raw: str, stop_strings: Sequence[str] = ()) -> str:
    """The answer in a continuation: leading white space skipped, then cut at the first
    line break and at the first stop string, and trimmed."""
    text = raw.lstrip()
    text = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    for stop in stop_strings:
        if stop and stop in text:
            text = text[: text.index(stop)]
    return text.strip()


def _answered(raw: str) -> bool:
    """True once the continuation holds a whole first line (generation can stop)."""
    stripped = raw.lstrip()
    return "\n" in stripped or "\r" in stripped


def answer_budget(tokenizer, reference: str, settings: SamplingSettings) -> int:
    """How many tokens the model may write: the reference's length plus a margin, capped by the settings."""
    length = len(tokenizer.encode_ids([" " + reference])[0])
    return max(1, min(settings.max_new_tokens, length + ANSWER_MARGIN))


@dataclass
class Generated:
    """What `generate_answer` returns: the continuation, and how the prompt fared."""

    raw: str
    prompt_tokens: int
    cut_tokens: int = 0


def generate_answer(
    model, tokenizer, prompt: str, settings: SamplingSettings, max_new_tokens: int, cancel: Optional[CancelToken] = None
) -> Generated:
    """Continue `prompt` with at most `max_new_tokens` tokens, stopping once a line is complete."""
    from playground.core.beam_search import beam_search
    from playground.core.sampling import generate_tokens, prepare_prompt

    prepared = prepare_prompt(tokenizer, prompt, model.config.context_length)
    run = replace(settings, max_new_tokens=max_new_tokens)
    if settings.strategy == "beam":
        result = beam_search(model, prepared.ids, run, tokenizer, cancel)
        raw = result.beams[0].text if result.beams else ""
    else:
        raw = ""
        for token in generate_tokens(model, prepared.ids, run, tokenizer, cancel):
            raw += token.text
            if _answered(raw):
                break
    return Generated(raw=raw, prompt_tokens=prepared.total_tokens, cut_tokens=prepared.cut_tokens)


def fill_answer(model, tokenizer, prompt: str) -> Generated:
    """An encoder's answer to `prompt`: its top guess for the last [MASK] (one is added at the end when the
    prompt has none). A prompt longer than the context loses tokens at the front, keeping the mask."""
    from playground.core.fill_mask import mask_candidates
    from playground.core.masking import MASK_TOKEN, encoder_tokens

    tokens = encoder_tokens(tokenizer)  # UserError naming what is missing without [MASK]
    if MASK_TOKEN not in prompt:
        prompt = prompt.rstrip() + " " + MASK_TOKEN
    body = list(tokenizer.encode_ids([prompt])[0])
    masks = [i for i, token_id in enumerate(body) if token_id == tokens.mask]
    if not masks:
        raise UserError(f"The tokenizer does not read {MASK_TOKEN} as one token: the encoder cannot answer.")
    last = masks[-1]
    room = model.config.context_length - tokens.wrapping
    start = min(max(0, len(body) - room), last)  # cut the front, never the answer's mask
    ids = tokens.wrap(body[start : start + room])
    position = last - start + (1 if tokens.cls is not None else 0)
    guess = mask_candidates(model, tokenizer, ids, [position], top_k=1)[0][0]
    return Generated(raw=guess.text, prompt_tokens=len(ids), cut_tokens=start)


def evaluate_task(
    model,
    tokenizer,
    template: PromptTemplate,
    examples: Union[Task, Sequence[TaskExample]],
    settings: Optional[SamplingSettings] = None,
    mode: Optional[str] = None,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[TaskResult]:
    """Job: ask the model every example through `template` (in `mode`, default the template's) and score it.

    `settings` default to greedy decoding. Each `TaskRow` is yielded as soon
    as it is answered (for a live table); `cancel` stops inside an answer and
    raises `Cancelled` (between answers, closing the job is enough).
    """
    results = yield from _run(model, tokenizer, template, examples, settings, [mode], cancel)
    return results[0]


def compare_modes(
    model,
    tokenizer,
    template: PromptTemplate,
    examples: Union[Task, Sequence[TaskExample]],
    modes: Sequence[str] = ("zero-shot", "few-shot"),
    settings: Optional[SamplingSettings] = None,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[list[TaskResult]]:
    """Job: `evaluate_task` once per mode, on the same examples and settings: one result each, in order."""
    if not modes:
        raise UserError("Choose at least one prompt mode to compare.")
    return (yield from _run(model, tokenizer, template, examples, settings, list(modes), cancel))


def ask_checkpoint(
    checkpoint,
    model_of: Callable,
    template: PromptTemplate,
    examples: Union[Task, Sequence[TaskExample]],
    modes: Sequence[str] = ("zero-shot", "few-shot"),
    settings: Optional[SamplingSettings] = None,
    cancel: Optional[CancelToken] = None,
) -> JobGenerator[list[TaskResult]]:
    """Job: `compare_modes` on a checkpoint whose model `model_of(checkpoint)` gives, inside the job
    (loading it may take seconds: the window's shared model is loaded on first use)."""
    yield Progress(0.0, "Loading the model…")
    model = model_of(checkpoint)
    return (yield from compare_modes(model, checkpoint.tokenizer, template, examples, modes, settings, cancel))


def _run(model, tokenizer, template, examples, settings, modes, cancel) -> JobGenerator[list[TaskResult]]:
    task_label = examples.name if isinstance(examples, Task) else ""
    examples = list(examples.examples if isinstance(examples, Task) else examples)
    if not examples:
        raise UserError("The task has no examples to ask.")
    settings = DEFAULT_SETTINGS if settings is None else settings
    settings.raise_if_invalid()
    modes = [template.mode if m is None else m for m in modes]
    for m in modes:
        template.render(mode=m, input="")  # an unknown mode or a broken template: a sentence, before any work
    scorer = rouge_scorer()
    import sacrebleu

    encoder = bool(getattr(getattr(model, "config", None), "is_encoder", False))
    if getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        raise UserError(
            "This model is an encoder-decoder (T5 style): it answers each input as it is, with the task prefix it "
            "was trained with, not through a prompt template. It is scored text to text instead "
            "(core/seq2seq_eval.py; playground eval task does so)."
        )

    total = len(examples) * len(modes)
    results = []
    for n_mode, mode in enumerate(modes):
        started = time.perf_counter()
        rows: list[TaskRow] = []
        for index, example in enumerate(examples):
            if cancel is not None:
                cancel.raise_if_cancelled()
            done = n_mode * len(examples) + index
            yield Progress(done / total, f"{mode}: example {index + 1} of {len(examples)}")
            prompt = template.render(mode=mode, input=example.input).text
            if encoder:  # it fills the answer's [MASK] instead of writing
                generated = fill_answer(model, tokenizer, prompt)
            else:
                budget = answer_budget(tokenizer, example.reference, settings)
                generated = generate_answer(model, tokenizer, prompt, settings, budget, cancel)
            if cancel is not None:
                cancel.raise_if_cancelled()  # generation stops quietly when cancelled: a cut answer is no answer
            output = cut_answer(generated.raw, settings.stop_strings)
            row = TaskRow(
                index=index,
                mode=mode,
                input=example.input,
                reference=example.reference,
                output=output,
                raw=generated.raw,
                exact=is_exact(output, example.reference),
                chrf=sacrebleu.sentence_chrf(output, [example.reference]).score,
                rouge_l=scorer.score(example.reference, output)["rougeL"].fmeasure,
                prompt_tokens=generated.prompt_tokens,
                cut_tokens=generated.cut_tokens,
            )
            rows.append(row)
            yield row
        scores = score_outputs([r.output for r in rows], [r.reference for r in rows])
        results.append(
            TaskResult(
                template=template.name,
                mode=mode,
                rows=rows,
                scores=scores,
                seconds=time.perf_counter() - started,
                task=task_label,
                settings=settings,
            )
        )
    yield Progress(1.0, "Scored.")
    return results
