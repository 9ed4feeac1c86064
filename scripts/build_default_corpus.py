"""Write resources/corpora/python-docs.txt.gz from the text that ships with Python.

Run: python scripts/build_default_corpus.py
The shipped file was built with CPython 3.11.7; other versions give slightly other text.
"""

import gzip
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playground.core.corpus import build_default_corpus_text, default_corpus_path  # noqa: E402

text = build_default_corpus_text()
out = default_corpus_path()
out.parent.mkdir(parents=True, exist_ok=True)
# mtime=0 keeps the file byte-for-byte reproducible.
with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as f:
    f.write(text.encode("utf-8"))
print(f"{out}: {len(text):,} characters, {out.stat().st_size:,} bytes compressed")
