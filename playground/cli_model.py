"""The command line for models: train one and generate text with it, using the window's core code.

    playground train --corpus PATH|default [--tokenizer FILE.json] [--preset tiny] [--steps N] [--out DIR]
                                            a new or empty DIR, or any with --overwrite
    playground train --family encoder [--mask-share 0.15] ...   a BERT-style masked language model
    playground train --family encoder-decoder [--objective span-corruption] [--noise-share 0.15 --mean-span 3]
    playground train --family encoder-decoder --objective text-to-text --task FILE|KEY [--task-prefix TEXT]
                                            a T5-style model: on the corpus, or on a task's (input, reference) pairs
    playground train --out DIR --resume [--steps N]          continue a stopped run
    playground train --init-from DIR --corpus PATH           fine-tune a trained model on new text
    playground generate --model DIR --prompt TEXT [--strategy greedy|sample|beam] [--temperature T] [--json]
    playground generate --model DIR --template FILE --input TEXT     a prompt template's query
    playground generate --model DIR --input TEXT     an encoder-decoder (T5) writes an output for the input

Progress goes to stderr; the run folder (train) or the text (generate) to stdout.
`add_commands` adds both to the subcommands of `playground.cli`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from playground.cli_args import (
    DEVICES,
    add_device_arguments,
    add_model_arguments,
    apply_threads,
    at_least_one,
    positive_float,
    positive_int,
)
from playground.core.progress import UserError

if TYPE_CHECKING:
    from playground.core.training import StoppedRecord


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `train` and `generate` to `subparsers` (each sets `model_command` to its function)."""
    from playground.core.config import ENCODER_DECODER_PRESETS, ENCODER_PRESETS, FAMILIES, FLAVOURS, PRESETS
    from playground.core.train_config import OBJECTIVES

    train = subparsers.add_parser("train", help="train a model on a corpus and save it in a run folder")
    train.add_argument(
        "--corpus",
        action="append",
        metavar="PATH",
        help="a text file or folder (repeat for more); 'default' for the built-in corpus "
        "(the default when neither this nor --resume is given)",
    )
    train.add_argument(
        "--tokenizer",
        type=Path,
        metavar="FILE.json",
        help="the tokenizer to use; without it a byte-level BPE (a WordPiece for an encoder) of "
        "--vocab-size is trained on the corpus (on the task, text to text); fine-tuning and resuming use the "
        "model's own",
    )
    train.add_argument(
        "--vocab-size", type=positive_int, default=1000, help="for the tokenizer trained when none is given"
    )
    presets = list({**PRESETS, **ENCODER_PRESETS, **ENCODER_DECODER_PRESETS})
    train.add_argument("--preset", choices=presets, help="the model's size (default tiny)")
    train.add_argument(
        "--family",
        choices=list(FAMILIES),
        help="what the model learns: the next token (decoder, the default), hidden tokens "
        "(encoder: BERT style, a masked language model) or to write an output text from an input text "
        "(encoder-decoder: T5 style, see --objective)",
    )
    train.add_argument(
        "--flavour",
        choices=list(FLAVOURS),
        help="the architecture (default gpt2; bert for an encoder, t5 for an encoder-decoder)",
    )
    train.add_argument(
        "--objective",
        choices=list(OBJECTIVES),
        help="an encoder-decoder's: span-corruption (T5's pre-training: write back the spans dropped from the "
        "corpus; the default) or text-to-text (answer a task's inputs with their references; the default "
        "when --task is given)",
    )
    train.add_argument(
        "--task",
        metavar="FILE|KEY",
        help="text to text: a CSV or JSON Lines file of inputs with their references (as playground eval task "
        "reads; a tenth held out for the validation loss), or a shipped task set: "
        "reverse-words, numbers-to-words, infix-to-postfix",
    )
    train.add_argument(
        "--task-prefix",
        metavar="TEXT",
        help="text to text: put before every input (default: the task set's own, e.g. 'reverse: '; none for a file)",
    )
    train.add_argument(
        "--noise-share",
        type=share,
        metavar="SHARE",
        help="span corruption: the share of tokens dropped (default 0.15, as T5)",
    )
    train.add_argument(
        "--mean-span",
        type=at_least_one,
        metavar="TOKENS",
        help="span corruption: the mean length of a dropped span (default 3, as T5)",
    )
    train.add_argument(
        "--mask-share",
        type=share,
        metavar="SHARE",
        help="an encoder's share of tokens hidden in each text (default 0.15, as BERT: of those, 80%% "
        "become [MASK], 10%% a random token, 10%% stay)",
    )
    train.add_argument("--context", type=positive_int, metavar="TOKENS", help="override the preset's context length")
    train.add_argument("--steps", type=positive_int, help="optimizer steps (default 500)")
    train.add_argument("--batch-size", type=positive_int)
    train.add_argument("--lr", type=positive_float, help="peak learning rate (default 3e-3)")
    train.add_argument("--eval-interval", type=positive_int, help="steps between evaluations and saves (default 50)")
    train.add_argument("--device", choices=DEVICES)
    train.add_argument("--precision", choices=["fp32", "bf16", "fp16"])
    train.add_argument("--seed", type=int)
    train.add_argument("--threads", type=positive_int, metavar="N", help="CPU threads for PyTorch (default: all cores)")
    train.add_argument("--init-from", type=Path, metavar="DIR", help="fine-tune the model in this run folder")
    train.add_argument(
        "--out", type=Path, metavar="DIR", help="the run folder (default: a new folder in the app's data folder)"
    )
    train.add_argument(
        "--resume", action="store_true", help="continue the stopped run in --out (give the same --corpus as before)"
    )
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="train into a non-empty --out, replacing the run files and checkpoints there",
    )
    train.set_defaults(model_command=train_command)

    generate = subparsers.add_parser(
        "generate",
        help="continue a prompt with a trained model, or write an encoder-decoder's output for an input",
        description="Continue a prompt (a decoder: --prompt), or write the output for an input (an "
        "encoder-decoder, T5 style: --input; its encoder reads the input once, the decoder writes from its "
        "start token and stops at </s>). Without --strategy: greedy, unless a sampling control "
        "(--temperature, --top-k, --top-p, --min-p) asks for sampling or --beams for beam search.",
    )
    add_model_arguments(generate)
    generate.add_argument(
        "--prompt",
        default="",
        help="a decoder's text to continue (default: start a new text); not for an encoder-decoder",
    )
    generate.add_argument(
        "--template", type=Path, metavar="FILE", help="a prompt template (.toml or .json); its query is --input"
    )
    generate.add_argument("--mode", help="render the template in this mode (zero-shot, one-shot, few-shot, ...)")
    generate.add_argument(
        "--input",
        help="an encoder-decoder's input (cut to its encoder's context with a notice), or the query to put "
        "into --template (whose text a decoder continues and an encoder-decoder reads as its input)",
    )
    generate.add_argument("--strategy", choices=["greedy", "sample", "beam"])
    generate.add_argument("--max-new-tokens", type=int, default=100)
    generate.add_argument("--temperature", type=float, help="divide the scores by T before sampling (default 1)")
    generate.add_argument("--top-k", type=int, help="sample from the k most likely tokens only")
    generate.add_argument(
        "--top-p", type=float, help="sample from the smallest set of tokens whose probability reaches p"
    )
    generate.add_argument("--min-p", type=float, help="drop tokens less than min-p times as likely as the best")
    generate.add_argument(
        "--repetition-penalty", type=float, default=1.0, help="above 1, tokens already in the text become less likely"
    )
    generate.add_argument("--beams", type=int, help="beam search with this many beams")
    generate.add_argument(
        "--length-penalty",
        type=float,
        default=1.0,
        help="beam search: a beam's score is its log-probability / length ** this",
    )
    generate.add_argument(
        "--early-stopping",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="beam search returns finished beams (ended by the end-of-text token) unless "
        "--max-new-tokens cuts it; with early stopping (the default) it ends as soon as "
        "there are --beams of them, without it it searches on while a live beam could "
        "still beat the worst finished one",
    )
    generate.add_argument(
        "--stop", action="append", default=[], metavar="TEXT", help="stop when the text contains this (repeat for more)"
    )
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument(
        "--json", action="store_true", help="print JSON: every new token with its probability and the best candidates"
    )
    add_device_arguments(generate, "auto")
    generate.set_defaults(model_command=generate_command)


def run(args: argparse.Namespace) -> int:
    """Run the command `add_commands` attached to the parsed `args`."""
    apply_threads(args)
    return args.model_command(args)


# -- train ----------------------------------------------------------------------


def train_command(args: argparse.Namespace) -> int:
    from playground.cli_progress import ctrl_c_cancels, run_with_bar
    from playground.cli_train_seq2seq import SEQ2SEQ_OPTIONS, seq2seq_changes, task_corpus, with_t5_tokens_noted
    from playground.core.checkpoints import check_new_run_dir, load_checkpoint, new_run_dir
    from playground.core.config import FLAVOURS, ModelConfig
    from playground.core.tokenization import open_tokenizer
    from playground.core.training import TrainConfig
    from playground.core.training_job import TrainingRequest, train

    if args.resume and args.init_from:
        raise UserError("--resume continues a run and --init-from starts a new one from a model: choose one.")
    if args.resume and args.out is None:
        raise UserError("--resume needs --out: the folder of the run to continue.")
    if args.resume and args.overwrite:
        raise UserError("--resume continues the run in --out and --overwrite replaces it: choose one.")
    if args.out is not None and not args.resume:
        check_new_run_dir(args.out, args.overwrite)  # at once, not after the corpus is encoded
    flavour = _flavour(args.family, args.flavour)
    encoder = FLAVOURS[flavour]["family"] == "encoder"
    encoder_decoder = FLAVOURS[flavour]["family"] == "encoder-decoder"

    # Where the model's shape and tokenizer come from: the run (resume), the
    # parent model (fine-tune), or the options.
    saved = None
    if args.resume or args.init_from:
        saved, _ = load_checkpoint(args.out if args.resume else args.init_from, which="last" if args.resume else "best")
    if saved is not None:
        encoder_decoder = saved.model_config.is_encoder_decoder
    base = saved.train_config if args.resume and saved is not None and saved.train_config is not None else TrainConfig()
    seq2seq = seq2seq_changes(args, base) if encoder_decoder else {}
    text_to_text = seq2seq.get("objective", base.objective) == "text-to-text" and encoder_decoder
    corpus = None if text_to_text else _corpus(args.corpus)  # text to text reads the task instead
    if text_to_text and args.corpus:
        print("note: --corpus is ignored: text to text learns from the --task", file=sys.stderr)
    if saved is not None:
        tokenizer = saved.tokenizer
        if args.tokenizer:
            print("note: --tokenizer is ignored: the model keeps the tokenizer it was trained with", file=sys.stderr)
    elif args.tokenizer:
        tokenizer = open_tokenizer(args.tokenizer)
    else:
        text = task_corpus(seq2seq.get("task", base.task)) if text_to_text else corpus
        tokenizer = _train_tokenizer(text, args.vocab_size, "wordpiece" if encoder else "bpe")
    if saved is None and encoder:
        tokenizer = _with_encoder_tokens(tokenizer)
    if saved is None and encoder_decoder:
        tokenizer = with_t5_tokens_noted(tokenizer, base.replace(**seq2seq), args.preset or "tiny", args.context)

    if saved is not None:
        model_config = saved.model_config
        ignored = [
            f"--{name}" for name in ("preset", "family", "flavour", "context") if getattr(args, name) is not None
        ]
        if ignored:
            print(f"note: {', '.join(ignored)} ignored: the model keeps its shape", file=sys.stderr)
    else:
        overrides = {"context_length": args.context} if args.context is not None else {}
        model_config = ModelConfig.from_preset(
            args.preset or "tiny", tokenizer.vocab_size, flavour=flavour, **overrides
        )

    changes = {
        "max_steps": args.steps, "batch_size": args.batch_size, "learning_rate": args.lr,
        "eval_interval": args.eval_interval, "device": args.device, "precision": args.precision, "seed": args.seed,
        "mask_share": args.mask_share, **seq2seq,
    }  # fmt: skip
    if args.mask_share is not None and not model_config.is_encoder:
        print("note: --mask-share is ignored: only an encoder learns from hidden tokens", file=sys.stderr)
    given = [f"--{n.replace('_', '-')}" for n in SEQ2SEQ_OPTIONS if getattr(args, n) is not None]
    if given and not model_config.is_encoder_decoder:
        print(f"note: {', '.join(given)} ignored: only an encoder-decoder has these", file=sys.stderr)
    train_config = base.replace(**{k: v for k, v in changes.items() if v is not None})
    train_config.raise_if_invalid()

    if corpus is not None:
        print(f"Encoding {corpus.name} with a tokenizer of {tokenizer.vocab_size:,} tokens…", file=sys.stderr)
    run_dir = args.out if args.out is not None else new_run_dir(args.preset or "run")
    request = TrainingRequest(
        model_config,
        train_config,
        tokenizer,
        corpus,
        run_dir,
        init_from=args.init_from,
        resume=args.resume,
        overwrite=args.overwrite,
    )
    printer = _TrainingPrinter(model_config, train_config)
    with ctrl_c_cancels() as stop:  # Ctrl+C: save, then stop
        run_ = run_with_bar(train(request, stop), "Training", on_partial=printer.show)
    stopped = printer.stopped
    if stopped is not None:
        print(stopped.message, file=sys.stderr)
    print(run_.run_dir)
    if stopped is not None and stopped.reason == "nan":
        return 1
    return 130 if stopped is not None and stopped.reason == "stopped" else 0


class _TrainingPrinter:
    """Prints what a training run reports on stderr: its start, a step line at most once a second
    (and the first and last), every evaluation and sample."""

    def __init__(self, model_config, train_config) -> None:
        self.model_config = model_config
        self.train_config = train_config
        self.last_print = 0.0
        self.stopped: Optional[StoppedRecord] = None

    def show(self, record) -> None:
        from playground.core.encoder_training import FillMaskSample
        from playground.core.seq2seq_training import Seq2SeqSample
        from playground.core.training import EvalRecord, SampleRecord, StoppedRecord
        from playground.core.training_job import RunStarted, StepBatch

        if isinstance(record, RunStarted):
            self._started(record.run)
        elif isinstance(record, StepBatch):
            for step in record.records:
                self._step(step)
        elif isinstance(record, EvalRecord):
            measure = (
                f"perplexity {record.perplexity:,.1f}"
                if record.masked_accuracy is None
                else f"masked accuracy {record.masked_accuracy:.1%}"
            )
            print(
                f"step {record.step:>6,}  train loss {record.train_loss:.4f}  val loss {record.val_loss:.4f}  "
                + measure,
                file=sys.stderr,
                flush=True,
            )
        elif isinstance(record, FillMaskSample):
            lines = [f"fill-mask sample at step {record.step:,}: {record.text!r}"]
            for n, mask in enumerate(record.masks, 1):
                guesses = ", ".join(f"{g.text.strip()!r} {g.probability:.0%}" for g in mask.guesses)
                lines.append(f"  [MASK] {n} (was {mask.answer.strip()!r}): {guesses}")
            print("\n".join(lines), file=sys.stderr, flush=True)
        elif isinstance(record, Seq2SeqSample):
            lines = [f"{record.objective} sample at step {record.step:,}:", f"  input:  {record.input!r}"]
            lines += [f"  target: {record.target!r}", f"  answer: {record.answer!r}"]
            if record.filled:
                lines.append(f"  filled: {record.filled!r}")
            print("\n".join(lines), file=sys.stderr, flush=True)
        elif isinstance(record, SampleRecord):
            print(f"sample at step {record.step:,}: {record.prompt + record.text!r}", file=sys.stderr, flush=True)
        elif isinstance(record, StoppedRecord):
            self.stopped = record

    def _started(self, run) -> None:
        from playground.core.config import parameter_breakdown

        data = run.data
        params = parameter_breakdown(self.model_config).total
        kind = " of an encoder (masked tokens)" if self.model_config.is_encoder else ""
        trained_on = f"{len(data.train):,} tokens ({len(data.val):,} held out)" if data is not None else ""
        if run.seq2seq is not None:
            kind, trained_on = " of an encoder-decoder", run.seq2seq.describe()
        print(
            f"Training {params:,} parameters{kind} on {trained_on} "
            f"on {run.device.type}, {self.train_config.max_steps:,} steps"
            + (f", from step {run.step:,}" if run.step else "")
            + (f", fine-tuning {run.parent}" if run.parent else ""),
            file=sys.stderr,
        )
        for note in run.notes:
            print(f"note: {note}", file=sys.stderr)

    def _step(self, record) -> None:
        from playground.core.estimates import human_duration  # here: `playground tokenizer train` needs none of it

        now = time.monotonic()
        if now - self.last_print >= 1.0 or record.step in (1, record.max_steps):
            self.last_print = now
            memory = f"  {record.memory_bytes / 2**20:,.0f} MiB" if record.memory_bytes else ""
            print(
                f"step {record.step:>6,}/{record.max_steps:,}  loss {record.loss:.4f}  "
                f"lr {record.lr:.2e}  {record.tokens_per_s:,.0f} tok/s  "
                f"eta {human_duration(record.eta_s)}{memory}",
                file=sys.stderr,
                flush=True,
            )


def _corpus(paths: Optional[list[str]]):
    from playground.core.corpus import corpus_from_paths, default_corpus, default_corpus_path

    if not paths or paths == ["default"]:
        return default_corpus()
    return corpus_from_paths([default_corpus_path() if p == "default" else Path(p) for p in paths])


def _flavour(family: Optional[str], flavour: Optional[str]) -> str:
    """The flavour --family and --flavour ask for together (a family alone: its usual one)."""
    from playground.core.config import FLAVOURS

    usual = {"encoder": "bert", "encoder-decoder": "t5"}
    if flavour is None:
        return usual.get(family or "decoder", "gpt2")
    made = str(FLAVOURS[flavour]["family"])
    if family is not None and made != family:
        raise UserError(
            f"--flavour {flavour} makes {_a(made)}, not {_a(family)}: leave --flavour out, or give "
            f"--flavour {usual.get(family, 'gpt2 or llama')}."
        )
    return flavour


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _with_encoder_tokens(tokenizer):
    """The tokenizer with the special tokens an encoder needs ([MASK] and the rest), added where missing."""
    from playground.core.tokenization import missing_encoder_tokens, with_encoder_tokens

    missing = missing_encoder_tokens(tokenizer)
    if missing:
        tokenizer = with_encoder_tokens(tokenizer)
        print(
            f"note: added {', '.join(missing)} to the tokenizer as special tokens (an encoder needs them); "
            f"the run folder keeps the tokenizer with them",
            file=sys.stderr,
        )
    return tokenizer


def share(text: str) -> float:
    """An argparse type: a share above 0 and below 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not 0 < value < 1:  # NaN too
        raise argparse.ArgumentTypeError(f"must be above 0 and below 1 (BERT hides 0.15, T5 drops 0.15), not {text}")
    return value


def _train_tokenizer(corpus, vocab_size: int, kind: str = "bpe"):
    from playground.core.progress import run_quietly
    from playground.core.tokenization import LoadedTokenizer, spec_for_kind, train_in_process

    spec = spec_for_kind(kind, vocab_size=vocab_size)
    print(f"Training a {spec.label} tokenizer on {corpus.name}…", file=sys.stderr)
    return LoadedTokenizer(run_quietly(train_in_process(corpus, spec)), name=spec.label, spec=spec)


# -- generate ---------------------------------------------------------------------


def generate_command(args: argparse.Namespace) -> int:
    import json

    from playground.cli_progress import run_with_bar
    from playground.core.beam_search import beam_search_steps
    from playground.core.checkpoints import load_checkpoint
    from playground.core.generation_jobs import prepare, reading
    from playground.core.sampling import generate_tokens
    from playground.core.training import resolve_device

    settings = sampling_settings(args)
    checkpoint, model = load_checkpoint(args.model, device=resolve_device(args.device), which=args.which)
    encoder_decoder = checkpoint.model_config.is_encoder_decoder
    prompt = prompt_text(args, encoder_decoder)
    tokenizer = checkpoint.tokenizer
    prepared = prepare(checkpoint, prompt).prepared
    if prepared.notice:
        print(prepared.notice, file=sys.stderr)
    decoder_ids, input_ids = reading(checkpoint, prepared.ids)
    # A decoder's output continues its prompt; an encoder-decoder's stands alone.
    before, read = ("", {"input": prompt}) if encoder_decoder else (prompt, {"prompt": prompt})

    if settings.strategy == "beam":
        search = beam_search_steps(model, decoder_ids, settings, tokenizer=tokenizer, input_ids=input_ids)
        result = run_with_bar(search, "Beam search")
        if args.json:
            print_text(
                json.dumps(
                    {
                        **read,
                        "strategy": "beam",
                        "notice": prepared.notice,
                        "beams": [
                            {
                                "text": b.text,
                                "ids": b.ids,
                                "logprob": b.logprob,
                                "score": b.score,
                                "finished": b.finished,
                            }
                            for b in result.beams
                        ],
                    },
                    ensure_ascii=False,
                    indent=1,
                )
            )
        else:
            print_text(before + result.beams[0].text)
            for rank, beam in enumerate(result.beams, 1):
                print(
                    f"beam {rank}: score {beam.score:.3f}, log-prob {beam.logprob:.2f}: {beam.text!r}", file=sys.stderr
                )
        count = len(result.beams[0].ids)
    else:
        tokens = list(generate_tokens(model, decoder_ids, settings, tokenizer=tokenizer, input_ids=input_ids))
        text = tokenizer.decode([t.id for t in tokens])
        if args.json:
            print_text(
                json.dumps(
                    {
                        **read,
                        "strategy": settings.strategy,
                        "notice": prepared.notice,
                        "text": text,
                        "stop_reason": tokens[-1].stop_reason if tokens else "",
                        "tokens": [
                            {
                                "id": t.id,
                                "text": t.text,
                                "prob": round(t.prob, 6),
                                "chosen_prob": round(t.chosen_prob, 6),
                                "top": [{"id": c.id, "text": c.text, "prob": round(c.prob, 6)} for c in t.before],
                            }
                            for t in tokens
                        ],
                    },
                    ensure_ascii=False,
                    indent=1,
                )
            )
        else:
            print_text(before + text)
        count = len(tokens)
    print(
        f"{count} tokens from {checkpoint.path} (step {checkpoint.step:,}"
        + (f", val loss {checkpoint.val_loss:.3f}" if checkpoint.val_loss is not None else "")
        + ")",
        file=sys.stderr,
    )
    return 0


def sampling_settings(args: argparse.Namespace):
    """The SamplingSettings the flags ask for; a setting that cannot work is a UserError (the core's
    checks, shared with the window)."""
    from playground.core.sampling import SamplingSettings

    strategy = args.strategy
    if strategy is None:
        sampling = any(v is not None for v in (args.top_k, args.top_p, args.min_p)) or (args.temperature or 0) > 0
        strategy = "beam" if args.beams is not None else "sample" if sampling else "greedy"
    settings = SamplingSettings(
        strategy=strategy,
        temperature=1.0 if args.temperature is None else args.temperature,
        top_k=args.top_k or 0,
        top_p=1.0 if args.top_p is None else args.top_p,
        min_p=args.min_p or 0.0,
        repetition_penalty=args.repetition_penalty,
        beams=4 if args.beams is None else args.beams,
        length_penalty=args.length_penalty,
        early_stopping=args.early_stopping,
        max_new_tokens=args.max_new_tokens,
        stop_strings=tuple(args.stop),
        seed=args.seed,
    )
    settings.raise_if_invalid()
    return settings


def prompt_text(args: argparse.Namespace, encoder_decoder: bool = False) -> str:
    """What the model reads: a decoder's --prompt, an encoder-decoder's --input, or --template rendered
    with --input (a decoder continues it, an encoder-decoder reads it as its input)."""
    if args.template is None:
        if args.mode is not None:
            raise UserError("--mode renders a prompt template: give the template with --template FILE.")
        if encoder_decoder:
            if args.prompt:
                raise UserError(
                    "This model is an encoder-decoder (T5 style): it writes an output for an input rather than "
                    "continuing a prompt. Give the text with --input instead of --prompt."
                )
            return args.input or ""
        if args.input is not None:
            raise UserError(
                "This model is a decoder: it continues a prompt, so give the text with --prompt. --input is what "
                "an encoder-decoder reads, or the query of a prompt template (--template FILE)."
            )
        return args.prompt
    if args.prompt:
        raise UserError("Give either --prompt or --template, not both.")
    from playground.core.prompts import load_template

    template = load_template(args.template)
    return template.render(mode=args.mode, input=args.input).text


def print_text(text: str) -> None:
    try:
        print(text)
    except UnicodeEncodeError:  # a console that cannot show every character
        sys.stdout.buffer.write((text + "\n").encode("utf-8"))
        sys.stdout.flush()


# -- standalone -------------------------------------------------------------------
