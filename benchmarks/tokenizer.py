"""Benchmark: the app's tokenizer paths against direct ``tokenizers`` calls.

For byte-level BPE at a few vocab sizes, on the built-in corpus, it measures

* training: ``train_tokenizer`` (the app's path: a pre-started worker process
  reads the corpus file, trains, and sends the tokenizer back as JSON) against
  ``Tokenizer.train_from_iterator`` in this process on the same text already
  in memory, with the identical tokenizer and trainer (``build_tokenizer``);
* encoding: ``LoadedTokenizer.encode_ids`` over the corpus lines against
  ``Tokenizer.encode_batch(lines, add_special_tokens=False)`` on the same
  tokenizer and lines, in MB/s (the direct call's result is released inside
  the timing, as ``encode_ids`` releases its Encodings).

Both training paths must learn the same merges: the direct call iterates over
the same line-aligned ~64 KB pieces the worker feeds the trainer (``--direct-input lines``
uses ``splitlines`` instead, which pre-tokenizes whitespace after a newline
differently and so learns slightly different merges).

Repeats are interleaved (app, direct, app, direct, ...) so that both paths see
the same machine state; the table shows medians. Run from the repository root:

    python benchmarks/tokenizer.py [--repeats N] [--sizes 1000,4000,16000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable

import tokenizers

from machine_load import OtherLoad  # noqa: E402  (benchmarks/ is on sys.path when run as a script)
from playground.core.corpus import default_corpus, scan_corpus
from playground.core.progress import CancelToken, Progress
from playground.core.tokenization import (TRAIN_PIECE_CHARS, LoadedTokenizer, build_tokenizer, spec_for_kind,
                                          split_lines, train_tokenizer)
from playground.core.tokenizer_worker import prestart_worker, shutdown_workers

TARGET = 1.1  # the app's path may take at most this many times the direct call
MIN_FREQUENCY = 2


def throttled_progress(interval_s: float = 1 / 30) -> Callable[[Progress], None]:
    """A progress callback that does as little as the app's (``Job._report``): keep
    the latest report and pass one on at most ~30 times a second (here: to nowhere)."""
    state = {"last": 0.0, "pending": None}

    def report(p: Progress) -> None:
        now = time.monotonic()
        if now - state["last"] >= interval_s:
            state["last"] = now
            state["pending"] = None
        else:
            state["pending"] = p

    return report


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def model_of(tok: tokenizers.Tokenizer) -> dict:
    return json.loads(tok.to_str())["model"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per path and size (default 3)")
    parser.add_argument("--sizes", default="1000,4000,16000", help="comma-separated BPE vocab sizes")
    parser.add_argument("--direct-input", choices=("chunks", "lines"), default="chunks",
                        help="what the direct training call iterates over: 'chunks' (default) is the "
                             "same ~64 KB line-aligned pieces the worker feeds the trainer, so the merges must be "
                             "identical; 'lines' is corpus.read_text().splitlines(keepends=True), which "
                             "pre-tokenizes whitespace at line starts differently and so learns "
                             "slightly different merges")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    repeats = max(1, args.repeats)

    # What the app does at launch, before anyone trains.
    prestart_worker()
    try:
        return run(sizes, repeats, args.direct_input)
    finally:
        shutdown_workers()


def run(sizes: list[int], repeats: int, direct_input: str) -> int:
    corpus = default_corpus()
    stats = scan_corpus(corpus)  # the app scans when the corpus is opened, before training
    text = corpus.read_text()
    lines = text.splitlines(keepends=True)
    # The same ~64 KB line-aligned pieces the worker feeds the trainer.
    train_items = ([piece for chunk in corpus.iter_text() for piece in split_lines(chunk, TRAIN_PIECE_CHARS)]
                   if direct_input == "chunks" else lines)
    corpus_mb = len(text.encode("utf-8")) / 1e6

    print("# Tokenizer benchmark: app path vs direct `tokenizers` calls\n")
    print(f"- machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"tokenizers {tokenizers.__version__}, {platform.system()} {platform.machine()}")
    print(f"- corpus: {corpus.name}, {corpus_mb:.2f} MB, {len(lines):,} lines; direct training input: "
          f"{len(train_items):,} {direct_input}")
    print(f"- byte-level BPE, min_frequency {MIN_FREQUENCY}; median of {repeats} interleaved repeats")
    print(f"- TOKENIZERS_PARALLELISM={os.environ.get('TOKENIZERS_PARALLELISM', '(unset)')}, "
          f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', '(unset)')}\n", flush=True)

    # Warm-up (not timed): makes sure the pre-started worker has finished importing,
    # and warms the page cache and allocators of both processes.
    warm = spec_for_kind("bpe", vocab_size=sizes[0], min_frequency=MIN_FREQUENCY)
    train_tokenizer(corpus, warm, throttled_progress(), CancelToken(), stats)
    tok, trainer = build_tokenizer(warm)
    tok.train_from_iterator(train_items, trainer)

    rows, checks, breakdowns = [], [], []
    load = OtherLoad()
    for size in sizes:
        spec = spec_for_kind("bpe", vocab_size=size, min_frequency=MIN_FREQUENCY)
        app_train, direct_train = [], []
        app_tok: LoadedTokenizer | None = None
        direct_tok: tokenizers.Tokenizer | None = None
        for _ in range(repeats):
            t, app_tok = timed(lambda: train_tokenizer(corpus, spec, throttled_progress(), CancelToken(), stats))
            app_train.append(t)
            tok, trainer = build_tokenizer(spec)
            t, _ = timed(lambda: tok.train_from_iterator(train_items, trainer))
            direct_train.append(t)
            direct_tok = tok
        assert app_tok is not None and direct_tok is not None

        # Same result? Vocabulary size, and the merges and vocabulary themselves.
        app_model, direct_model = model_of(app_tok.tokenizer), model_of(direct_tok)
        checks.append((size, app_tok.vocab_size, direct_tok.get_vocab_size(),
                       app_model["merges"] == direct_model["merges"], app_model["vocab"] == direct_model["vocab"],
                       len(app_model["merges"])))

        # Encoding, on the tokenizer the app trained: the app's call vs the library's.
        # The direct call's Encodings are released inside the timing (len() keeps only a
        # count), as they are inside encode_ids; otherwise freeing 57k Encoding objects
        # (~0.08 s here) would be charged to the app alone.
        lib = app_tok.tokenizer
        app_enc, direct_enc, fast_enc = [], [], []
        for _ in range(repeats):
            t, _ = timed(lambda: app_tok.encode_ids(lines))
            app_enc.append(t)
            t, _ = timed(lambda: len(lib.encode_batch(lines, add_special_tokens=False)))
            direct_enc.append(t)
            if hasattr(lib, "encode_batch_fast"):  # tokenizers >= 0.20: no offsets tracked
                t, _ = timed(lambda: [e.ids for e in lib.encode_batch_fast(lines, add_special_tokens=False)])
                fast_enc.append(t)

        b = app_path_breakdown(corpus, lib, lines, repeats)
        b["fast_mbs"] = corpus_mb / statistics.median(fast_enc) if fast_enc else float("nan")
        breakdowns.append((size, b))
        a_tr, d_tr = statistics.median(app_train), statistics.median(direct_train)
        a_en, d_en = statistics.median(app_enc), statistics.median(direct_enc)
        rows.append((size, a_tr, d_tr, a_en, d_en))
        print(f"vocab {size:,}: train app {[round(x, 3) for x in app_train]} s, "
              f"direct {[round(x, 3) for x in direct_train]} s; encode app {[round(x, 3) for x in app_enc]} s, "
              f"direct {[round(x, 3) for x in direct_enc]} s", file=sys.stderr, flush=True)

    other_load = load.report()
    print("| vocab | app train s | direct train s | train ratio (app/direct) "
          "| app encode MB/s | direct encode MB/s | encode ratio (app time/direct time) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    misses = []
    for size, a_tr, d_tr, a_en, d_en in rows:
        tr_ratio, en_ratio = a_tr / d_tr, a_en / d_en
        if tr_ratio > TARGET:
            misses.append(f"train {size:,}")
        if en_ratio > TARGET:
            misses.append(f"encode {size:,}")
        print(f"| {size:,} | {a_tr:.3f} | {d_tr:.3f} | {tr_ratio:.2f} {mark(tr_ratio)} "
              f"| {corpus_mb / a_en:.2f} | {corpus_mb / d_en:.2f} | {en_ratio:.2f} {mark(en_ratio)} |")
    print(f"\ntarget: app path at most {TARGET} x the direct call"
          + (f" — missed: {', '.join(misses)}" if misses else " — met everywhere"))
    print(other_load)

    print("\nSame result from both training paths:")
    all_same = True
    for size, app_n, direct_n, same_merges, same_vocab, n_merges in checks:
        all_same &= app_n == direct_n and same_merges and same_vocab
        print(f"- vocab {size:,}: vocab size app {app_n:,} / direct {direct_n:,} "
              f"({'same' if app_n == direct_n else 'DIFFERENT'}); {n_merges:,} merges "
              f"{'identical' if same_merges else 'DIFFERENT'}; vocabulary "
              f"{'identical' if same_vocab else 'DIFFERENT'}")
    if direct_input == "lines" and not all_same:
        print("  (expected with --direct-input lines: a line boundary splits whitespace such as "
              "'\\n    ' differently from the worker's ~1 MB chunks, so the counts and merges differ slightly)")

    print("\nWhere the app path's extra time goes (steps timed in this process, medians):")
    print("| vocab | read corpus file s | tokenizer.to_str s | JSON reply dumps+loads s "
          "| JSON KB (tokenizer / reply) | Tokenizer.from_str s | encode: ids to lists s "
          "| encode: free Encodings s | encode_batch_fast + ids MB/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size, b in breakdowns:
        print(f"| {size:,} | {b['read']:.3f} | {b['to_str']:.3f} | {b['json']:.3f} "
              f"| {b['tok_kb']:.0f} / {b['json_kb']:.0f} | {b['from_str']:.3f} | {b['ids']:.3f} "
              f"| {b['free']:.3f} | {b['fast_mbs']:.2f} |")
    # Different merges from identical input would mean the app trains something else.
    return 0 if all_same or direct_input == "lines" else 1


def app_path_breakdown(corpus, tok: tokenizers.Tokenizer, lines: list[str], repeats: int) -> dict:
    """Time the steps the app's path adds around the library's own work (medians)."""
    def med(fn: Callable[[], object]) -> float:
        return statistics.median(timed(fn)[0] for _ in range(repeats))

    tok_json = tok.to_str()
    reply = json.dumps({"result": tok_json})  # what the worker writes to the pipe
    out = {
        "read": med(lambda: list(corpus.iter_text())),
        "to_str": med(tok.to_str),
        "json": med(lambda: json.loads(json.dumps({"result": tok_json}))),
        "tok_kb": len(tok_json.encode("utf-8")) / 1e3,
        "json_kb": len(reply) / 1e3,
        "from_str": med(lambda: tokenizers.Tokenizer.from_str(tok_json)),
    }
    ids, free = [], []
    for _ in range(repeats):
        encs = tok.encode_batch(lines, add_special_tokens=False)
        ids.append(timed(lambda: [e.ids for e in encs])[0])
        start = time.perf_counter()
        del encs
        free.append(time.perf_counter() - start)
    out["ids"], out["free"] = statistics.median(ids), statistics.median(free)
    return out


def mark(ratio: float) -> str:
    return "✓" if ratio <= TARGET else "✗"


if __name__ == "__main__":
    sys.exit(main())
