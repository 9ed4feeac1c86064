"""The layers hold: ``playground.core`` imports with Qt made unimportable, and the
tokenizer half of it without PyTorch either."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: installs a finder that refuses the blocked packages,
# checks that it works, then imports what it is told and reports what was loaded.
SCRIPT = textwrap.dedent("""
    import importlib, json, pkgutil, sys

    blocked, targets = sys.argv[1].split(","), sys.argv[2].split(",")

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in blocked:
                raise ImportError(f"{name} is made unimportable by this test")
            return None

    sys.meta_path.insert(0, Refuse())
    for name in blocked:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
        else:
            raise SystemExit(f"the blocker let {name} through")

    imported = []
    for target in targets:
        if target.endswith(".*"):
            package = importlib.import_module(target[:-2])
            imported.append(package.__name__)
            for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                importlib.import_module(info.name)
                imported.append(info.name)
        elif ":" in target:  # module:function, called with no arguments
            module, function = target.split(":")
            getattr(importlib.import_module(module), function)()
            imported.append(target)
        else:
            importlib.import_module(target)
            imported.append(target)
    loaded = sorted({m.split(".")[0] for m in sys.modules})
    print(json.dumps({"imported": imported, "loaded": loaded}))
""")


def import_without(blocked: list[str], targets: list[str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, ",".join(blocked), ",".join(targets)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_core_imports_without_qt():
    report = import_without(["PySide6", "shiboken6"], ["playground.core.*"])
    core = ROOT / "playground" / "core"  # its modules and its packages' (core/huggingface/...), dotted
    core_modules = sorted(
        ".".join(p.relative_to(core).with_suffix("").parts).removesuffix(".__init__")
        for p in core.rglob("*.py")
        if p != core / "__init__.py"
    )
    assert sorted(m.removeprefix("playground.core.") for m in report["imported"][1:]) == core_modules
    assert {"corpus", "tokenization", "tokenizer_worker", "model"} <= set(core_modules)
    assert "PySide6" not in report["loaded"] and "shiboken6" not in report["loaded"]


def test_corpus_and_tokenization_import_without_torch():
    report = import_without(
        ["PySide6", "shiboken6", "torch"],
        ["playground.core.corpus", "playground.core.tokenization", "playground.core.tokenizer_worker"],
    )
    assert "torch" not in report["loaded"]
    assert "tokenizers" in report["loaded"]  # the import really happened


def test_command_line_parser_needs_neither_qt_nor_torch():
    report = import_without(["PySide6", "shiboken6", "torch"], ["playground.cli:build_parser"])
    assert report["imported"] == ["playground.cli:build_parser"]
    assert "tokenizers" in report["loaded"] and "torch" not in report["loaded"]
