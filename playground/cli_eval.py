"""The command line for evaluation: a checkpoint's perplexity on a text, and its scores on a task.

    playground eval perplexity --model DIR [--model DIR ...] --text FILE|default [--which best|last] [--json]
    playground eval perplexity --model T5DIR --task FILE|NAME|SET [--prefix TEXT]   (an encoder-decoder)
    playground eval task --model DIR [--model DIR ...] --task FILE|NAME|SET [--template FILE] [--mode MODE]
                         [--compare MODE] [--prefix TEXT] [--json]

An encoder-decoder (T5 style) is measured on (input, reference) pairs: the perplexity of each reference
given its input, and its own answers scored like any model's. A task SET is one of the shipped text-to-text
sets (reverse-words, ...): its held-out split, with its prefix. Several --model give one table, an
encoder-decoder (text to text) beside decoders asked through a template (zero-shot, few-shot).

Results go to stdout, a progress bar to stderr (`run_with_bar`, over the same
job generators the window runs; a job done within half a second shows none).
`add_command` adds `eval` to the subcommands of `playground.cli` (nothing
heavy is imported until it runs).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from playground.cli_args import add_device_arguments, add_model_arguments, apply_threads
from playground.core.progress import UserError


def add_command(subparsers: argparse._SubParsersAction) -> None:
    """Add `eval` with its `perplexity` and `task` commands (each sets `eval_command`)."""
    evaluate = subparsers.add_parser("eval", help="measure a trained model: perplexity on a text, scores on a task")
    commands = evaluate.add_subparsers(dest="eval_name", required=True)

    ppl = commands.add_parser(
        "perplexity",
        help="how well a model predicts a text: perplexity per token and bits per byte",
        description="Score every token of a text (but the first) with the model. Perplexity is per token, so "
        "it only compares models with the same tokenizer; bits per byte compares any two models. "
        "An encoder gets its pseudo-perplexity instead (each token hidden in turn and guessed from both "
        "sides): not the same kind of number, so compare it, and its bits per byte, with encoders only. "
        "Give --model more than once to compare models on the same text.",
    )
    _add_model_arguments(ppl, several=True)
    ppl.add_argument(
        "--text",
        metavar="FILE|default",
        help="a text file (UTF-8), or 'default' for the built-in corpus",
    )
    ppl.add_argument(
        "--task",
        metavar="FILE|NAME|SET",
        help="for an encoder-decoder: pairs whose references it predicts from their inputs (a task file, a "
        "built-in task, or a shipped text-to-text set's held-out split)",
    )
    _add_prefix_argument(ppl)
    ppl.add_argument("--max-chars", type=int, metavar="N", help="score only the first N characters of the text")
    ppl.add_argument(
        "--stride",
        type=int,
        metavar="TOKENS",
        help="windows start this many tokens apart (default: the context length, no overlap); "
        "smaller gives every token more context and takes longer",
    )
    ppl.add_argument("--batch-size", type=int, default=8, help="windows per forward pass (default 8)")
    ppl.add_argument("--json", action="store_true", help="print the results as JSON")
    ppl.set_defaults(eval_command=perplexity_command)

    task = commands.add_parser(
        "task",
        help="ask a model a task's examples through a prompt template and score the answers",
        description="Render the template with each example's input, let the model answer (greedy unless told "
        "otherwise; the answer is its first line) and score the answers against the references: "
        "BLEU and chrF (sacrebleu, 0-100), ROUGE-1/2/L (rouge-score, 0-1) and exact match.",
    )
    _add_model_arguments(task, several=True)
    task.add_argument(
        "--task",
        required=True,
        metavar="FILE|NAME|SET",
        help="a .csv (columns input, reference) or .jsonl task file, a built-in task's name "
        "(sentiment, translation, questions, python-phrases), or a shipped text-to-text set "
        "(reverse-words, numbers-to-words, infix-to-postfix: its held-out split)",
    )
    _add_prefix_argument(task)
    task.add_argument(
        "--template",
        type=Path,
        metavar="FILE",
        help="the prompt template (.toml or .json); default: the one that goes with the task",
    )
    task.add_argument("--mode", help="the prompt mode (zero-shot, one-shot, few-shot, ...); default the template's")
    task.add_argument("--compare", metavar="MODE", help="run a second mode too and print both side by side")
    task.add_argument("--strategy", choices=["greedy", "sample", "beam"], default="greedy")
    task.add_argument("--temperature", type=float, default=1.0)
    task.add_argument("--top-k", type=int, default=0)
    task.add_argument("--top-p", type=float, default=1.0)
    task.add_argument("--beams", type=int, default=4)
    task.add_argument("--seed", type=int, default=0)
    task.add_argument(
        "--max-new-tokens",
        type=int,
        default=64,
        help="the most tokens an answer may take (it also stops at the reference's length + 8)",
    )
    task.add_argument("--show", action="store_true", help="print every example's answer")
    task.add_argument("--json", action="store_true", help="print the scores and every answer as JSON")
    task.set_defaults(eval_command=task_command)


def _add_prefix_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prefix",
        help="for an encoder-decoder: the task prefix put before each input, as in training "
        "(default: a shipped set's own, else none)",
    )


def _add_model_arguments(parser: argparse.ArgumentParser, several: bool) -> None:
    add_model_arguments(parser, several=several)
    add_device_arguments(parser, "cpu")


def _setup(args: argparse.Namespace):
    from playground.core.training import resolve_device

    apply_threads(args)
    return resolve_device(args.device)


def _read_text(args: argparse.Namespace) -> tuple[str, str]:
    """(text, its name) from --text and --max-chars."""
    if args.max_chars is not None and args.max_chars < 1:
        raise UserError(f"--max-chars must be at least 1, not {args.max_chars}.")
    if args.text == "default":
        from playground.core.corpus import default_corpus

        corpus = default_corpus()
        return corpus.read_text(args.max_chars), corpus.name
    from playground.core.evaluation import read_text_file

    text = read_text_file(Path(args.text))
    return (text if args.max_chars is None else text[: args.max_chars]), Path(args.text).name


def perplexity_command(args: argparse.Namespace) -> int:
    from playground.cli_progress import run_with_bar
    from playground.core.checkpoints import load_checkpoint
    from playground.core.evaluation import PSEUDO, perplexity
    from playground.core.masked_eval import pseudo_perplexity
    from playground.core.model import GPT

    if (args.text is None) == (args.task is None):
        raise UserError(
            "Give --text (a text a decoder or an encoder predicts) or --task (pairs whose references an "
            "encoder-decoder predicts from their inputs): one of the two."
        )
    if args.task is not None:
        from playground.cli_eval_seq2seq import reference_perplexity_command

        return reference_perplexity_command(args)
    device = _setup(args)
    text, text_name = _read_text(args)
    reports = []
    for path in args.model:
        checkpoint, model = load_checkpoint(path, device=device, which=args.which)
        if not isinstance(model, GPT):
            from playground.core.seq2seq_eval import no_text_perplexity

            raise no_text_perplexity(checkpoint.name, " with --task")
        if model.config.is_encoder:  # no left-to-right probability: each token hidden in turn
            pseudo = run_with_bar(
                pseudo_perplexity(model, checkpoint.tokenizer, text, batch_size=max(32, args.batch_size)),
                desc=checkpoint.name,
            )
            scores = {"measure": PSEUDO, **pseudo.to_dict(), "perplexity": pseudo.pseudo_perplexity}
        else:
            result = run_with_bar(
                perplexity(model, checkpoint.tokenizer, text, batch_size=args.batch_size, stride=args.stride),
                desc=checkpoint.name,
            )
            scores = {"measure": "perplexity", **result.to_dict()}
        reports.append(
            {
                "model": checkpoint.name,
                "path": str(checkpoint.path),
                "which": checkpoint.which,
                "step": checkpoint.step,
                "parameters": model.num_parameters(),
                "tokenizer": checkpoint.tokenizer.kind_label,
                "vocab_size": checkpoint.model_config.vocab_size,
                "text": text_name,
                **scores,
            }
        )
        del model
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=1))
        return 0
    first = reports[0]
    print(f"Text: {text_name}, {first['characters']:,} characters, {first['bytes']:,} bytes")
    if len(reports) == 1:
        r = first
        print(
            f"Model: {r['model']} ({r['which']}, step {r['step']:,}, {r['parameters']:,} parameters, "
            f"{r['tokenizer']} of {r['vocab_size']:,} tokens)"
        )
        if r["measure"] == PSEUDO:
            print(f"  tokens scored    {r['tokens']:,} (each hidden in turn, guessed from both sides)")
            print(f"  mean loss        {r['mean_loss']:.4f} nats per token")
            print(f"  pseudo-perplexity {r['pseudo_perplexity']:.2f} per token")
            print(f"  masked accuracy  {r['masked_accuracy']:.1%}")
            print(f"  bits per byte    {r['bits_per_byte']:.4f} (compares with encoders only)")
            print(PSEUDO_NOTE)
            return 0
        print(f"  tokens scored    {r['tokens']:,} (every token but the first; {r['scored_bytes']:,} bytes)")
        print(f"  mean loss        {r['mean_loss']:.4f} nats per token")
        print(f"  perplexity       {r['perplexity']:.2f} per token")
        print(f"  bits per byte    {r['bits_per_byte']:.4f}")
        return 0
    header = f"{'model':<24} {'parameters':>11} {'tokenizer':<28} {'steps':>7} {'tokens':>8} {'perplexity':>11} {'bits/byte':>10}"
    print(header)
    for r in reports:
        tokenizer = f"{r['tokenizer']} {r['vocab_size']:,}"
        mark = " (pseudo)" if r["measure"] == PSEUDO else ""
        print(
            f"{r['model'][:24]:<24} {r['parameters']:>11,} {tokenizer[:28]:<28} {r['step']:>7,} {r['tokens']:>8,} "
            f"{r['perplexity']:>11.2f} {r['bits_per_byte']:>10.4f}{mark}"
        )
    print("Perplexity compares models with the same tokenizer only; bits per byte compares any.")
    if any(r["measure"] == PSEUDO for r in reports):
        print(PSEUDO_NOTE)
    return 0


PSEUDO_NOTE = (
    "An encoder's number is a pseudo-perplexity (each token hidden in turn, guessed from both sides): not the "
    "same kind as a decoder's perplexity. Compare it, and its bits per byte, with other encoders only."
)


def _load_task(name: str):
    from playground.core.task_eval import builtin_task, builtin_tasks, load_task
    from playground.core.text_to_text import TASK_SETS

    path = Path(name)
    if path.exists() or path.suffix:
        return load_task(path)
    found = builtin_task(name)
    if found is None and any(t.key == name for t in TASK_SETS):
        from playground.cli_eval_seq2seq import held_out

        return held_out(name)
    if found is None:
        names = ", ".join(re.sub(r"^\d+-", "", t.path.stem) for t in builtin_tasks() if t.path is not None)
        sets = ", ".join(t.key for t in TASK_SETS)
        raise UserError(
            f"There is no task file {name} and no built-in task of that name (the built-in tasks are {names}; "
            f"the text-to-text sets {sets})."
        )
    return found


def task_command(args: argparse.Namespace) -> int:
    from playground.cli_progress import run_with_bar
    from playground.core.checkpoints import load_checkpoint
    from playground.core.prompts import load_template
    from playground.core.sampling import SamplingSettings
    from playground.core.task_eval import compare_modes, template_for

    task = _load_task(args.task)
    if args.template is not None:
        template = load_template(args.template)
    else:
        from playground.cli_eval_seq2seq import template_for_set

        template = template_for_set(args.task) or template_for(task)
    settings = SamplingSettings(
        strategy=args.strategy,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        beams=args.beams,
        seed=args.seed,
        max_new_tokens=args.max_new_tokens,
    )
    settings.raise_if_invalid()
    modes = [args.mode or template.mode] + ([args.compare] if args.compare else [])
    device = _setup(args)
    if len(args.model) > 1:
        from playground.cli_eval_seq2seq import compare_command

        return compare_command(args, task, template, modes, settings, device)
    checkpoint, model = load_checkpoint(args.model[0], device=device, which=args.which)
    if model.config.is_encoder_decoder:
        from playground.cli_eval_seq2seq import text_to_text_command

        return text_to_text_command(args, task, checkpoint, model)
    results = run_with_bar(
        compare_modes(model, checkpoint.tokenizer, template, task, modes=modes, settings=settings), desc=task.name
    )
    if args.json:
        print(
            json.dumps(
                {
                    "model": checkpoint.name,
                    "task": task.name,
                    "template": template.name,
                    "examples": len(task),
                    "results": [r.to_dict() for r in results],
                },
                indent=1,
            )
        )
        return 0
    how = "an encoder: it fills a [MASK] at the answer" if model.config.is_encoder else settings.strategy
    print(f'Task {task.name} ({len(task)} examples), template "{template.name}", model {checkpoint.name}, {how}')
    print_scores(results)
    if args.show:
        print_answers(results)
    return 0


SCORE_LINES = (
    ("BLEU", "bleu", "{:.1f}"),
    ("chrF", "chrf", "{:.1f}"),
    ("ROUGE-1", "rouge1", "{:.3f}"),
    ("ROUGE-2", "rouge2", "{:.3f}"),
    ("ROUGE-L", "rouge_l", "{:.3f}"),
    ("exact match", "exact_match", "{:.3f}"),
)


def print_scores(results) -> None:
    """One column of scores per `TaskResult`, headed by its mode."""
    print(f"{'':<14}" + "".join(f"{r.mode:>18}" for r in results))
    for label, key, fmt in SCORE_LINES:
        print(f"{label:<14}" + "".join(f"{fmt.format(getattr(r.scores, key)):>18}" for r in results))
    print(f"{'seconds':<14}" + "".join(f"{r.seconds:>18.1f}" for r in results))


def print_answers(results) -> None:
    """Every example's answer, marked = when it matches its reference."""
    from playground.cli_model import print_text  # answers may hold characters a console cannot show

    for r in results:
        print(f"\n{r.mode}:")
        for row in r.rows:
            mark = "=" if row.exact else " "
            print_text(f"  {mark} {row.input!r} -> {row.output!r}  (reference {row.reference!r})")
