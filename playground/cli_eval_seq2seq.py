"""`playground eval` for an encoder-decoder (T5 style), and the table that puts it beside decoders.

    playground eval perplexity --model T5DIR --task reverse-words          # references given their inputs
    playground eval task --model T5DIR --task reverse-words                # its own answers, scored
    playground eval task --model T5DIR --model GPTDIR --task reverse-words --mode zero-shot --compare few-shot

A shipped text-to-text set (`TASK_SETS`) is read as its held-out split, each input given the set's prefix
(or --prefix); a decoder is asked it through a template whose few-shot examples are the set's first
training pairs. Called by `cli_eval`, which parses the arguments.
"""

from __future__ import annotations

import argparse
import json
import sys

from playground.core.progress import UserError


def _task_set(name: str):
    from playground.core.text_to_text import TASK_SETS

    return next((t for t in TASK_SETS if t.key == name), None)


def held_out(key: str):
    """The shipped text-to-text set `key`'s held-out split, as a `Task`."""
    from playground.core.seq2seq_eval import held_out_task

    return held_out_task(key)[0]


def template_for_set(name: str):
    """For a shipped set, the template a decoder is asked it through (its training pairs as examples); else None."""
    from playground.core.seq2seq_eval import set_template

    return set_template(name) if _task_set(name) is not None else None


def prefix_for(args: argparse.Namespace) -> str:
    if args.prefix is not None:
        return args.prefix
    found = _task_set(args.task)
    return found.prefix if found is not None else ""


def _load(args: argparse.Namespace, path, device):
    from playground.core.checkpoints import load_checkpoint

    return load_checkpoint(path, device=device, which=args.which)


def reference_perplexity_command(args: argparse.Namespace) -> int:
    """`eval perplexity --task`: each encoder-decoder's perplexity of the references given their inputs."""
    from playground.cli_eval import _load_task, _setup
    from playground.cli_progress import run_with_bar
    from playground.core.seq2seq_eval import reference_perplexity

    device = _setup(args)
    task = _load_task(args.task)
    prefix = prefix_for(args)
    reports = []
    for path in args.model:
        checkpoint, model = _load(args, path, device)
        if not model.config.is_encoder_decoder:
            raise UserError(
                f"{checkpoint.name} is not an encoder-decoder: --task measures how well a model predicts each "
                "reference from its input, which needs an encoder for the input. Give a decoder or an encoder "
                "a text with --text."
            )
        result = run_with_bar(
            reference_perplexity(model, checkpoint.tokenizer, task, prefix, batch_size=args.batch_size),
            desc=checkpoint.name,
        )
        for notice in result.notices:
            print(notice, file=sys.stderr)
        reports.append(
            {
                "model": checkpoint.name,
                "path": str(checkpoint.path),
                "which": checkpoint.which,
                "step": checkpoint.step,
                "parameters": model.num_parameters(),
                "task": task.name,
                "prefix": prefix,
                "measure": "reference perplexity",
                **result.to_dict(),
            }
        )
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=1))
        return 0
    print(f"Task: {task.name}, {len(task)} pairs" + (f", prefix {prefix!r}" if prefix else ""))
    for r in reports:
        print(f"Model: {r['model']} ({r['which']}, step {r['step']:,}, {r['parameters']:,} parameters)")
        print(f"  reference tokens {r['tokens']:,} (each reference's tokens and its </s>)")
        print(f"  mean loss        {r['mean_loss']:.4f} nats per token")
        print(f"  perplexity       {r['perplexity']:.2f} per reference token, given the input")
    return 0


def _cut_notices(results, context: int) -> None:
    from playground.core.seq2seq_eval import cut_notice

    for result in results:
        for row in result.rows:
            notice = cut_notice(row, context)
            if notice:
                print(notice, file=sys.stderr)


def text_to_text_command(args: argparse.Namespace, task, checkpoint, model) -> int:
    """`eval task` with one encoder-decoder: it answers each input, and its answers are scored."""
    from playground.cli_eval import print_answers, print_scores
    from playground.cli_progress import run_with_bar
    from playground.core.seq2seq_eval import NO_TEMPLATE, answer_pairs

    prefix = prefix_for(args)
    result = run_with_bar(answer_pairs(model, checkpoint.tokenizer, task, prefix), desc=task.name)
    _cut_notices([result], model.config.context_length)
    if args.json:
        report = {
            "model": checkpoint.name,
            "task": task.name,
            "template": NO_TEMPLATE,
            "prefix": prefix,
            "examples": len(task),
            "results": [result.to_dict()],
        }
        print(json.dumps(report, indent=1))
        return 0
    how = "an encoder-decoder: text to text, greedy" + (f", prefix {prefix!r}" if prefix else "")
    print(f"Task {task.name} ({len(task)} examples), model {checkpoint.name}, {how}")
    print_scores([result])
    if args.show:
        print_answers([result])
    return 0


def compare_command(args: argparse.Namespace, task, template, modes, settings, device) -> int:
    """`eval task` with several models: one table, a row per model and way of asking."""
    from playground.cli_eval import SCORE_LINES
    from playground.cli_progress import run_with_bar
    from playground.core.seq2seq_eval import Contestant, compare_on_task

    contestants, contexts = [], {}
    for path in args.model:
        checkpoint, model = _load(args, path, device)
        contestants.append(Contestant(checkpoint.name, model, checkpoint.tokenizer))
        contexts[checkpoint.name] = model.config.context_length
    job = compare_on_task(contestants, task, template, modes, prefix_for(args), settings)
    rows = run_with_bar(job, desc=task.name)
    for row in rows:
        if row.family == "encoder-decoder":
            _cut_notices([row.result], contexts[row.model])
    if args.json:
        table = [
            {"model": r.model, "family": r.family, "prompting": r.prompting, "scores": r.scores.to_dict()} for r in rows
        ]
        print(json.dumps({"task": task.name, "template": template.name, "examples": len(task), "rows": table}))
        return 0
    print(f'Task {task.name} ({len(task)} examples); decoders asked through "{template.name}"')
    width = max(len("model"), *(len(r.label) for r in rows))
    print(f"{'model':<{width}}" + "".join(f"{label:>12}" for label, _, _ in SCORE_LINES))
    for r in rows:
        cells = "".join(f"{fmt.format(getattr(r.scores, key)):>12}" for _, key, fmt in SCORE_LINES)
        print(f"{r.label:<{width}}{cells}")
    if args.show:
        from playground.cli_eval import print_answers

        print_answers([r.result for r in rows])
    return 0
