#!/usr/bin/env bash
# Install LLM Playground into ./.venv, with the system libraries Qt needs on
# Debian/Ubuntu. Safe to run again: it installs only what is missing.
#   bash scripts/install.sh          the app
#   bash scripts/install.sh --test   the app and the test tools
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
if [[ "${1:-}" == "--test" ]]; then extras="[test]"; fi

# Qt's runtime libraries (offscreen and on a real X11/Wayland desktop).
qt_libs=(libegl1 libgl1 libfontconfig1 libdbus-1-3 libglib2.0-0 libxkbcommon0
         libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
         libxcb-render-util0 libxcb-shape0 libxcb-xkb1 fonts-dejavu-core)
if command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
  missing=()
  for pkg in "${qt_libs[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ! python3 -c "import venv, ensurepip" 2>/dev/null; then missing+=(python3-venv); fi
  if ((${#missing[@]})); then
    sudo=""; if [[ $EUID -ne 0 ]]; then sudo="sudo"; fi
    echo "Installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

if [[ ! -x .venv/bin/python ]]; then python3 -m venv .venv; fi
# torch is a range (>=2.4): a machine with a GPU gets its CUDA build.
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
echo "LLM Playground is installed in $(pwd)/.venv"
