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
         libxcb-render-util0 libxcb-shape0 libxcb-xkb1 fonts-dejavu-core
         fonts-noto-color-emoji)  # emoji in the live token view render in colour
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
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check)

# PyTorch. A CUDA build is several GB; without an NVIDIA GPU it is dead weight,
# so there the CPU-only build comes from PyTorch's own CPU index (see
# packaging/README.md for the sizes). An installed torch is kept as it is.
has_nvidia_gpu() {
  { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; } || [[ -e /proc/driver/nvidia/version ]]
}
torch_build() {
  .venv/bin/python -c "import torch; print(torch.__version__, 'with CUDA ' + torch.version.cuda if torch.version.cuda else '(CPU only)')" 2>/dev/null
}
if built=$(torch_build); then
  echo "PyTorch: keeping the installed $built."
elif has_nvidia_gpu; then
  echo "PyTorch: an NVIDIA GPU is here, so the default build with CUDA is installed (a few GB)."
  "${pip[@]}" "torch>=2.6"
elif [[ "$(uname -s)" == "Darwin" ]]; then
  echo "PyTorch: the macOS build (CPU and Apple GPU) is installed."
  "${pip[@]}" "torch>=2.6"
else
  echo "PyTorch: no NVIDIA GPU here, so the CPU-only build is installed from PyTorch's CPU index."
  if ! "${pip[@]}" --timeout 20 --retries 1 --index-url https://download.pytorch.org/whl/cpu "torch>=2.6"; then
    echo "PyTorch's CPU index could not be reached: installing the default build instead (it may bring CUDA" \
         "libraries this machine cannot use: a bigger download, but it works)."
    "${pip[@]}" "torch>=2.6"
  fi
fi

# torch is a range in pyproject (>=2.6): the build chosen above satisfies it and is kept.
"${pip[@]}" -e ".${extras}"
echo "PyTorch build: $(torch_build)"
echo "LLM Playground is installed in $(pwd)/.venv"
