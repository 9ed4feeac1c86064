"""Benchmark: the app's tokenizer paths against direct ``tokenizers`` calls.

On the built-in corpus, for byte-level BPE at a few vocab sizes, it measures

* training, as whole processes: ``python -m playground tokenizer train --corpus
  default ...`` against a ``python -c`` script that reads the same corpus and
  trains the same tokenizer with ``tokenizers`` alone (nothing of the app is
  imported), feeding the trainer the same ~64 KB line-aligned pieces the app
  does, so both must learn identical merges. Each process writes its
  tokenizer.json; the wall time from start to exit is what a person waits for;
* encoding, in this process: ``LoadedTokenizer.encode_ids`` over the corpus
  lines against the library call it wraps,
  ``Tokenizer.encode_batch_fast(lines, add_special_tokens=False)`` and reading
  each Encoding's ids, on the same tokenizer and lines.

Repeats are interleaved (app, direct, app, direct, ...) so that both see the
same machine state; the tables show medians and ratios measured in this run.
Run from the repository root:

    python benchmarks/tokenizer.py [--repeats N] [--sizes 1000,4000,16000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import tokenizers
from machine_load import OtherLoad  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
TRAIN_TARGET = 1.2  # the command line may take at most this many times the direct script
ENCODE_TARGET = 1.1  # encode_ids may take at most this many times the library call it wraps
MIN_FREQUENCY = 2

# The direct script: tokenizers alone, set up as build_tokenizer("bpe") does, fed the same pieces
# as the app's trainer: the corpus decoded in line-aligned 1 MiB chunks (read_text_chunks), each cut
# into ~64 KB line-aligned pieces (split_lines). Other pieces would split whitespace after a line
# break differently and learn slightly different merges.
DIRECT = """
import codecs, gzip, sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
corpus, vocab, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=2, special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
def chunks():
    decoder, carry = codecs.getincrementaldecoder("utf-8")(), ""
    with gzip.open(corpus) as f:
        raw = f.read(4)
        while True:
            raw += f.read(1 << 20)
            text, final, raw = carry + decoder.decode(raw, final=not raw), not raw, b""
            if final:
                yield from [text] if text else []
                return
            cut = text.rfind("\\n") + 1
            yield text[:cut]
            carry = text[cut:]
def pieces(size=64 * 1024):
    for text in chunks():
        start = 0
        while start < len(text):
            end = start + size
            if end < len(text):
                cut = text.rfind("\\n", start, end) + 1
                end = cut if cut > start else end
            yield text[start:end]
            start = end
tok.train_from_iterator(pieces(), trainer)
tok.save(out)
"""


class OtherLoadWithChildren(OtherLoad):
    """Counts the CPU time of this process's finished children (the timed processes) as its own."""

    @staticmethod
    def _sample():
        sample = OtherLoad._sample()
        if sample is None:
            return None
        times = os.times()
        children = round((times.children_user + times.children_system) * os.sysconf("SC_CLK_TCK"))
        return sample[0], sample[1] + children


def timed_process(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a whole process. The CPU time, user and system summed
    over its threads, moves less than the wall time when other processes share the machine."""
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # Bytecode is cached as an installed app's is: without .pyc files every run would
    # compile the app's modules again (~80 ms), which no user pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def merges_of(path: Path) -> list:
    return json.loads(path.read_text(encoding="utf-8"))["model"]["merges"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per path and size (default 5)")
    parser.add_argument("--sizes", default="1000,4000,16000", help="comma-separated BPE vocab sizes")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    repeats = max(1, args.repeats)

    from playground.core.corpus import default_corpus_path

    corpus = default_corpus_path()
    python = sys.executable
    print("# Tokenizer benchmark: the app against direct `tokenizers` calls\n")
    print(
        f"- machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"tokenizers {tokenizers.__version__}, {platform.system()} {platform.machine()}"
    )
    print(
        f"- corpus: {corpus.name}; byte-level BPE, min_frequency {MIN_FREQUENCY}; "
        f"median of {repeats} interleaved repeats"
    )
    print(
        f"- app: {Path(python).name} -m playground tokenizer train --corpus default --vocab-size N --out F "
        f"--overwrite\n- direct: {Path(python).name} -c '<tokenizers alone>' (see DIRECT in this file)\n",
        flush=True,
    )

    rows, same = [], []
    load = OtherLoadWithChildren()
    with tempfile.TemporaryDirectory() as tmp:
        app_out, direct_out = Path(tmp) / "app.json", Path(tmp) / "direct.json"

        def app_cmd(n: int) -> list[str]:
            return [python, "-m", "playground", "tokenizer", "train", "--corpus", "default",
                    "--vocab-size", str(n), "--out", str(app_out), "--overwrite"]  # fmt: skip

        def direct_cmd(n: int) -> list[str]:
            return [python, "-c", DIRECT, str(corpus), str(n), str(direct_out)]

        timed_process(app_cmd(sizes[0]))  # warm-up, not timed: page cache, .pyc files
        timed_process(direct_cmd(sizes[0]))
        for size in sizes:
            app, direct = [], []
            for _ in range(repeats):
                app.append(timed_process(app_cmd(size)))
                direct.append(timed_process(direct_cmd(size)))
            same.append((size, merges_of(app_out) == merges_of(direct_out), len(merges_of(app_out))))
            rows.append((size, *(statistics.median(x[i] for x in runs) for runs in (app, direct) for i in (0, 1))))
            print(
                f"vocab {size:,}: app {[round(x, 3) for x, _ in app]} s, direct {[round(x, 3) for x, _ in direct]} s",
                file=sys.stderr,
                flush=True,
            )
        encode_rows = measure_encoding(app_out if sizes else None, repeats)
    other_load = load.report()

    print("Training, whole processes (start to exit):\n")
    print("| vocab | app s | direct s | ratio (app/direct) | app CPU s | direct CPU s | CPU ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size, a, a_cpu, d, d_cpu in rows:
        print(
            f"| {size:,} | {a:.3f} | {d:.3f} | {a / d:.2f} {mark(a / d, TRAIN_TARGET)} "
            f"| {a_cpu:.3f} | {d_cpu:.3f} | {a_cpu / d_cpu:.2f} |"
        )
    print(f"\nEncoding the corpus lines with the last tokenizer trained (vocab {sizes[-1]:,}), in this process:\n")
    print("| call | MB/s | s | ratio (to encode_batch_fast) |")
    print("|---|---:|---:|---:|")
    for name, mbs, seconds, ratio in encode_rows:
        print(f"| {name} | {mbs:.2f} | {seconds:.3f} | {ratio:.2f} {mark(ratio, ENCODE_TARGET)} |")
    print(f"\ntargets: training at most {TRAIN_TARGET} x, encoding at most {ENCODE_TARGET} x the direct call")
    print(other_load)
    print("\nSame result from both training processes:")
    for size, identical, n in same:
        print(f"- vocab {size:,}: {n:,} merges, {'identical' if identical else 'DIFFERENT'}")
    return 0 if all(identical for _, identical, _ in same) else 1


def measure_encoding(tokenizer_json: Path, repeats: int) -> list[tuple[str, float, float, float]]:
    from playground.core.corpus import default_corpus
    from playground.core.tokenization import open_tokenizer

    tok = open_tokenizer(tokenizer_json)
    lib = tok.tokenizer
    text = default_corpus().read_text()
    lines = text.splitlines(keepends=True)
    mb = len(text.encode("utf-8")) / 1e6
    app, direct = [], []
    tok.encode_ids(lines)  # warm-up
    for _ in range(repeats):
        app.append(timed(lambda: tok.encode_ids(lines)))
        direct.append(timed(lambda: [e.ids for e in lib.encode_batch_fast(lines, add_special_tokens=False)]))
    a, d = statistics.median(app), statistics.median(direct)
    return [
        ("LoadedTokenizer.encode_ids(lines)", mb / a, a, a / d),
        ("[e.ids for e in Tokenizer.encode_batch_fast(lines, add_special_tokens=False)]", mb / d, d, 1.0),
    ]


def mark(ratio: float, target: float) -> str:
    return "✓" if ratio <= target else "✗"


if __name__ == "__main__":
    sys.exit(main())
