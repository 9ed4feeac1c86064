"""Write the task sets for training an encoder-decoder text to text (resources/tasks/text-to-text/).

Run: python scripts/make_task_sets.py [--out DIR] [--seed N]

Each set is two files in the format Evaluate reads, JSON Lines with one
{"input": ..., "reference": ...} a line: {key}-train.jsonl to learn from and
{key}-held-out.jsonl to test on, whose inputs never occur in the train file.
The inputs carry no task prefix: training adds it (TASK_SETS in
playground/core/text_to_text.py holds each set's prefix and description).

    reverse-words      900 train, 100 held out: 2 to 6 words from a list of 64
                       common ones, written back in the opposite order.
    numbers-to-words   900 train, 100 held out: every number from 0 to 999 in
                       American English words (421: four hundred twenty-one).
    infix-to-postfix   900 train, 100 held out: arithmetic on the digits 1 to 9
                       with +, - and * (1 to 3 operators), parentheses only where
                       needed, written in reverse Polish notation.

Small enough to learn from on a CPU in minutes, large enough that the held-out
answers must be worked out rather than remembered. Deterministic: the same seed
gives byte-identical files (tests/core/test_text_to_text.py checks that the
committed files are what this script writes). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Callable

OUT = Path(__file__).resolve().parent.parent / "resources" / "tasks" / "text-to-text"
SEED = 16
TRAIN, HELD_OUT = 900, 100

WORDS = (
    "apple bird blue boat bread cat chair cloud cold dog door egg fish flower friend garden "
    "glass green hand hat horse house king lamp leaf light milk moon mountain night ocean orange "
    "paper queen rain red river road rock salt sand ship shoe snow song star stone sun table "
    "tea tree water white wind window winter wolf wood yellow yes zero quiet happy little"
).split()

ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_in_words(n: int) -> str:
    """0 to 999 in American English: 421 -> "four hundred twenty-one" (no "and")."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("-" + ONES[n % 10] if n % 10 else "")
    rest = n % 100
    return ONES[n // 100] + " hundred" + (" " + number_in_words(rest) if rest else "")


# An expression is a digit (str) or (operator, left, right).
PRECEDENCE = {"+": 1, "-": 1, "*": 2}


def random_expression(rng: random.Random, operators: int):
    if operators == 0:
        return str(rng.randint(1, 9))
    left = rng.randint(0, operators - 1)
    return (rng.choice("+-*"), random_expression(rng, left), random_expression(rng, operators - 1 - left))


def infix(expression) -> str:
    """With parentheses only where they are needed to keep the same tree: around a left operand
    that binds less tightly, and a right operand that binds less or as tightly ("8 - (3 - 2)")."""
    if isinstance(expression, str):
        return expression
    op, left, right = expression

    def operand(child, right_side: bool) -> str:
        text = infix(child)
        if isinstance(child, tuple):
            weaker = PRECEDENCE[child[0]] < PRECEDENCE[op]
            if weaker or (right_side and PRECEDENCE[child[0]] == PRECEDENCE[op]):
                return f"({text})"
        return text

    return f"{operand(left, False)} {op} {operand(right, True)}"


def postfix(expression) -> str:
    if isinstance(expression, str):
        return expression
    op, left, right = expression
    return f"{postfix(left)} {postfix(right)} {op}"


def reversed_words(rng: random.Random) -> tuple[str, str]:
    words = [rng.choice(WORDS) for _ in range(rng.randint(2, 6))]
    return " ".join(words), " ".join(reversed(words))


def arithmetic(rng: random.Random) -> tuple[str, str]:
    expression = random_expression(rng, rng.randint(1, 3))
    return infix(expression), postfix(expression)


def distinct_pairs(rng: random.Random, make: Callable[[random.Random], tuple[str, str]], count: int) -> list:
    pairs: dict[str, str] = {}
    while len(pairs) < count:
        source, target = make(rng)
        pairs.setdefault(source, target)
    return list(pairs.items())


def task_sets(seed: int = SEED) -> dict[str, list[tuple[str, str]]]:
    """Each set's key and its pairs, the held-out ones last (TRAIN, then HELD_OUT)."""
    numbers = list(range(TRAIN + HELD_OUT))
    random.Random(seed).shuffle(numbers)
    return {
        "reverse-words": distinct_pairs(random.Random(seed + 1), reversed_words, TRAIN + HELD_OUT),
        "numbers-to-words": [(str(n), number_in_words(n)) for n in numbers],
        "infix-to-postfix": distinct_pairs(random.Random(seed + 2), arithmetic, TRAIN + HELD_OUT),
    }


def files(seed: int = SEED) -> dict[str, str]:
    """File name -> its text: {key}-train.jsonl and {key}-held-out.jsonl for each set."""
    out = {}
    for key, pairs in task_sets(seed).items():
        for part, chosen in (("train", pairs[:TRAIN]), ("held-out", pairs[TRAIN:])):
            lines = (json.dumps({"input": s, "reference": t}, ensure_ascii=False) for s, t in chosen)
            out[f"{key}-{part}.jsonl"] = "".join(line + "\n" for line in lines)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder to write to (default {OUT})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"the random seed (default {SEED})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files(args.seed).items():
        (args.out / name).write_bytes(text.encode("utf-8"))  # bytes: the same line endings everywhere
        print(f"{args.out / name}: {text.count(chr(10))} pairs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
