#!/usr/bin/env bash
# Install (or remove) the LLM Playground desktop entry and icons for the
# current user, following the freedesktop.org layout.
#
#   packaging/install_desktop_entry.sh [PATH_TO_PLAYGROUND_EXECUTABLE]
#   packaging/install_desktop_entry.sh dist/llm-playground/llm-playground
#   packaging/install_desktop_entry.sh --uninstall
#
# Without an argument the `playground` executable is looked up next to the
# active python, then on PATH, then in the repository's .venv; a copy of this
# script inside a built app folder (dist/llm-playground/) uses that app.
# A path may also name the built app's folder (dist/llm-playground).
set -euo pipefail

APP_ID="llm-playground"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
APPS_DIR="$DATA_HOME/applications"
ICONS_DIR="$DATA_HOME/icons/hicolor"

# In the repository the icons and the .desktop file lie beside this script; in a
# built app folder (build.sh copies the script there) they lie in _internal/packaging/.
FILES="$HERE"
if [[ ! -f "$FILES/$APP_ID.desktop" && -f "$HERE/_internal/packaging/$APP_ID.desktop" ]]; then
    FILES="$HERE/_internal/packaging"
fi

DESKTOP_DEST="$APPS_DIR/$APP_ID.desktop"
ICON_DESTS=(
    "$ICONS_DIR/256x256/apps/$APP_ID.png"
    "$ICONS_DIR/64x64/apps/$APP_ID.png"
    "$ICONS_DIR/scalable/apps/$APP_ID.svg"
)
ICON_SRCS=(
    "$FILES/icons/$APP_ID.png"
    "$FILES/icons/$APP_ID-64.png"
    "$FILES/icons/$APP_ID.svg"
)

usage() { sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

refresh_caches() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$APPS_DIR" >/dev/null 2>&1 || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t -f "$ICONS_DIR" >/dev/null 2>&1 || true
    fi
}

find_executable() {
    local python dir
    if [[ -x "$HERE/$APP_ID" && -d "$HERE/_internal" ]]; then  # this copy sits in a built app folder
        echo "$HERE/$APP_ID"
        return 0
    fi
    for python in python python3; do
        if python="$(command -v "$python" 2>/dev/null)"; then
            dir="$(dirname "$python")"
            if [[ -x "$dir/playground" ]]; then
                echo "$dir/playground"
                return 0
            fi
        fi
    done
    if command -v playground >/dev/null 2>&1; then
        command -v playground
        return 0
    fi
    if [[ -x "$REPO/.venv/bin/playground" ]]; then
        echo "$REPO/.venv/bin/playground"
        return 0
    fi
    return 1
}

# Quote a path for an Exec= line (Desktop Entry Specification, "The Exec key").
exec_quote() {
    local path="$1"
    if [[ "$path" =~ ^[A-Za-z0-9/._+-]+$ ]]; then
        printf '%s' "$path"
        return
    fi
    # Inside double quotes, \ " ` $ are backslash-escaped; the backslashes
    # themselves are then escaped again as the key is a string value.
    local out="" ch i
    for ((i = 0; i < ${#path}; i++)); do
        ch="${path:i:1}"
        case "$ch" in
            '\') out+='\\\\' ;;
            '"' | '`' | '$') out+='\\'"$ch" ;;
            *) out+="$ch" ;;
        esac
    done
    printf '"%s"' "$out"
}

uninstall() {
    rm -f "$DESKTOP_DEST" "${ICON_DESTS[@]}"
    refresh_caches
    echo "Removed the LLM Playground desktop entry and icons from $DATA_HOME"
}

do_install() {
    local exe="${1:-}"
    if [[ -z "$exe" ]]; then
        if ! exe="$(find_executable)"; then
            echo "error: no 'playground' executable found; install the package" \
                 "(pip install -e .) or pass its path as the first argument" >&2
            exit 1
        fi
    fi
    if [[ -d "$exe" && -x "$exe/$APP_ID" ]]; then  # the built app's folder
        exe="$exe/$APP_ID"
    fi
    if [[ ! -f "$exe" || ! -x "$exe" ]]; then
        echo "error: '$exe' is not an executable file" >&2
        exit 1
    fi
    exe="$(cd "$(dirname "$exe")" && pwd)/$(basename "$exe")"

    local i exec_line
    for i in "${!ICON_SRCS[@]}"; do
        install -D -m 644 "${ICON_SRCS[$i]}" "${ICON_DESTS[$i]}"
    done

    mkdir -p "$APPS_DIR"
    exec_line="Exec=$(exec_quote "$exe")"
    local tmp="$DESKTOP_DEST.tmp.$$"
    while IFS= read -r line || [[ -n "$line" ]]; do
        if [[ "$line" == Exec=* ]]; then
            printf '%s\n' "$exec_line"
        else
            printf '%s\n' "$line"
        fi
    done < "$FILES/$APP_ID.desktop" > "$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$DESKTOP_DEST"

    refresh_caches
    echo "Installed $DESKTOP_DEST"
    echo "  $exec_line"
}

case "${1:-}" in
    -h|--help) usage ;;
    --uninstall) uninstall ;;
    -*) echo "error: unknown option '$1'" >&2; usage >&2; exit 2 ;;
    *) do_install "${1:-}" ;;
esac
