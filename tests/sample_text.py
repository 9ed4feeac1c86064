"""Small made-up English for the training and checkpoint tests."""

import random

WORDS = "the cat sat on a mat and then it ran to the red house where a small dog slept all day".split()


def sentences(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 12))) + ".\n" for _ in range(n))
