#!/usr/bin/env bash
# Build LLM Playground as a one-folder app with PyInstaller.
#
#   bash packaging/build.sh [--smoke] [--python PATH]
#
# Output: dist/llm-playground/ (run dist/llm-playground/llm-playground);
# PyInstaller's work files go to build/pyinstaller/. Both folders are git-ignored.
# --smoke runs packaging/smoke_test.py on the result afterwards.
# The Python used is --python, else $PYTHON, else the active `python3`; it needs
# the app's dependencies and PyInstaller (`pip install pyinstaller`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
PY="${PYTHON:-}"
SMOKE=0

while [[ $# -gt 0 ]]; do
    case "$1" in
        --smoke) SMOKE=1 ;;
        --python) PY="$2"; shift ;;
        -h|--help) sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "error: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done
if [[ -z "$PY" ]]; then
    PY="$(command -v python3 || command -v python || true)"
fi
if [[ -z "$PY" ]]; then
    echo "error: no python found; pass --python PATH" >&2
    exit 1
fi
if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
    echo "error: PyInstaller is not installed for $PY: run '$PY -m pip install pyinstaller'" >&2
    exit 1
fi
if ! "$PY" -c "import playground, torch, PySide6, tokenizers, pyqtgraph" 2>/dev/null; then
    echo "error: $PY lacks the app or its dependencies: run '$PY -m pip install -e $REPO'" >&2
    exit 1
fi

cd "$REPO"
echo "Building with $("$PY" -c 'import sys, PyInstaller, torch; print(f"Python {sys.version.split()[0]}, PyInstaller {PyInstaller.__version__}, torch {torch.__version__}")')"
started=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$REPO/dist" --workpath "$REPO/build/pyinstaller" \
    "$HERE/llm-playground.spec"
elapsed=$(( $(date +%s) - started ))

APP_DIR="$REPO/dist/llm-playground"
# So that an unpacked copy of the folder can add itself to the application menu.
install -m 755 "$HERE/install_desktop_entry.sh" "$APP_DIR/install_desktop_entry.sh"
echo
echo "Built $APP_DIR in ${elapsed} s: $(du -sh "$APP_DIR" | cut -f1) on disk, $(find "$APP_DIR" -type f | wc -l) files"
echo "Run it:          $APP_DIR/llm-playground"
echo "Desktop entry:   $APP_DIR/install_desktop_entry.sh   (or packaging/install_desktop_entry.sh $APP_DIR/llm-playground)"
echo "Archive it:      tar -C dist -czf dist/llm-playground-linux-x86_64.tar.gz llm-playground"

if [[ "$SMOKE" == 1 ]]; then
    "$PY" "$HERE/smoke_test.py" "$APP_DIR"
fi
