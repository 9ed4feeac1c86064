"""The frozen app's entry point (PyInstaller runs this file): the same as ``python -m playground``.

``llm-playground --tokenizer-worker`` starts the tokenizer worker instead of the
window (``playground.cli.main`` checks for it): a frozen app has no ``python -m``.
"""

import multiprocessing
import sys

from playground.__main__ import main

if __name__ == "__main__":
    # A no-op on Linux (fork); on Windows and macOS (spawn) a frozen child process
    # would otherwise start a second window instead of running its task.
    multiprocessing.freeze_support()
    sys.exit(main())
