#!/usr/bin/env bash
# The quickest way to see vodpipe work, from a fresh clone on Debian 12:
#   installs what is missing, builds the binary, makes the test media, transcodes the
#   10 s 720p clip with the default ladder into ./out and lists what came out.
#
# Usage: scripts/demo.sh [INPUT] [OUT_DIR]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

input="${1:-fixtures/media/hd_16x9_audio.mp4}"
out="${2:-./out}"

step() { printf '\n==> %s\n' "$*"; }

step "Installing missing system packages (scripts/setup.sh)"
bash scripts/setup.sh
# rustup, when setup.sh just ran it, only changes PATH for shells started afterwards.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

step "Building the vodpipe binary (cargo build --release -p worker)"
cargo build --release -p worker

step "Making test media (fixtures/make-media.sh)"
bash fixtures/make-media.sh

step "Transcoding $input into $out"
start=$(date +%s)
target/release/vodpipe transcode "$input" --out "$out"
echo "transcode took $(($(date +%s) - start)) s"

step "Produced in $out"
# Sizes plus paths, sorted, so the layout (renditions, segments, thumbs) is easy to read.
find "$out" -type f -printf '%10s  %P\n' | sort -k2
master="$(find "$out" -name master.m3u8 | head -n1)"
if [ -n "$master" ]; then
    step "$master"
    cat "$master"
fi
