#!/usr/bin/env bash
# End-to-end benchmark of `vodpipe transcode` (see BENCHMARKS.md for what each figure means):
#   1. a 4-rung H.264 ladder (1080p/720p/480p/360p + AAC) against the ffmpeg CLI doing the same
#      ladder (one decode, split + scale, 4x libx264, HLS fMP4), with deterministic = false and
#      = true, plus the output bitrates of every rung;
#   2. the same ladder against the encoders' floor (gst-launch: decode, tee, scale, x264enc,
#      fakesink; no muxing, hashing, storage or thumbnails);
#   3. peak RSS on a short and a long source (2-rung 480p/240p ladder at preset ultrafast),
#      BENCH_RUNS rounds;
#   4. remux-only packaging: a 1080p rung and the audio with `copy = true` on a source they
#      fit, against `ffmpeg -c copy` to HLS fMP4 on the same file (MB/s of source), and against
#      a script making the same outputs with ffmpeg (+ poster, sprites, sha256sum);
#   5. time to first stored segment, per rendition;
#   6 (only when asked for): a title in chunks against the same title in one pipeline, on
#      one CPU (taskset -c 0: what chunking costs: each chunk's start, seek and init, and
#      the audio part's second decode of the video for the thumbnails) and on two (--jobs 2);
#   7 (only when asked for): one title on the queue (RabbitMQ + SeaweedFS from
#      scripts/services.sh), time from `vodpipe submit` to the worker's "job done" (after
#      video.packaged): one worker pinned to CPU 0 with the title whole, the same worker with
#      the title in chunk jobs, and two workers pinned to CPU 0 and CPU 1 sharing the chunks;
#      the speed-up of two workers and the fixed cost of a chunk;
#   8 (only when asked for): AV1: one 720p rung on SVT-AV1 (the packager's element) against
#      ffmpeg + libsvtav1 at the same preset, bitrate and GOP, and against the same rung on
#      libaom; a 2-rung AV1 ladder against ffmpeg's split + libsvtav1 per rung; SSIM of each
#      720p output (BENCH_AV1_SECONDS [20], BENCH_AV1_PRESET [8], BENCH_AV1_SLOW_PRESET [5]);
#   micro (only when asked for): the criterion benches of benches/ (manifest rendering of a
#      2-hour title, sha256 throughput), BENCH_RUNS times, medians and ratios.
#
# Runs of 1 and 2 are interleaved round by round (A, B, C, D; then B, C, D, A; ...) so that a
# burst of load elsewhere hits every variant alike; ratios are taken within a round, then the
# median of those is reported. Wall and CPU (user+sys) time and peak RSS come from GNU time.
#
# Environment knobs (defaults in brackets):
#   BENCH_SECONDS [60]        length of the 1080p30 source used by parts 1, 2 and 5
#   BENCH_RUNS [3]            rounds of parts 1 and 2, and runs of part 5
#   BENCH_MEM_SHORT_MIN [2]   BENCH_MEM_LONG_MIN [20]   source lengths for part 3 (minutes)
#   BENCH_REMUX_MIN [10]      length of part 4's source (minutes)
#   BENCH_PARTS ["1 2 3 4 5"] which parts to run (1 and 2 share their rounds; 5 is measured
#                             during the runs of 1; add "micro" for the criterion benches)
#   BENCH_CHUNK_SECONDS [120] BENCH_CHUNK_DURATION [30]   part 6's source length and chunks
#   BENCH_FARM_MIN [10] BENCH_FARM_CHUNK [60]   part 7's source length (minutes; the 60 s
#                             source repeated) and chunk length (seconds); default ladder
#   BENCH_FARM_VARIANTS ["whole_1worker chunked_1worker chunked_2workers"]   part 7's variants
#   BENCH_FFMPEG_MATCHED [0]  1: part 1 also runs ffmpeg with vodpipe's exact x264 settings
#                             (no B-frames, VBV maxrate = bitrate): the pipelines compared alone
#   BENCH_QUALITY [0]         1: after round 1, SSIM and PSNR of each variant's 1080p rendition
#                             against the source (ffmpeg's ssim/psnr filters; adds ~1 min each)
#   BENCH_BUILD [1]           1: `cargo build --release -p worker` first; 0: use the binary as is
#   BENCH_KEEP [0]            1: keep every output folder under the results folder
#   BENCH_MEDIA [target/bench-media]   cache of generated sources and ladder files
#   BENCH_RESULTS [target/bench-results/<date>]   raw figures (TSV), logs and summary.md
#
# Needs: ffmpeg/ffprobe, gst-launch-1.0 (gstreamer1.0-tools), GNU time (Debian: time; installed
# here when missing and running as root). Nothing here is a test: figures go to stdout and
# $BENCH_RESULTS/summary.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

SECONDS_SRC="${BENCH_SECONDS:-60}"
RUNS="${BENCH_RUNS:-3}"
MEM_SHORT_MIN="${BENCH_MEM_SHORT_MIN:-2}"
MEM_LONG_MIN="${BENCH_MEM_LONG_MIN:-20}"
PARTS=" ${BENCH_PARTS:-1 2 3 4 5} "
REMUX_MIN="${BENCH_REMUX_MIN:-10}"
CHUNK_SECONDS="${BENCH_CHUNK_SECONDS:-120}"
CHUNK_DURATION="${BENCH_CHUNK_DURATION:-30}"
FARM_MIN="${BENCH_FARM_MIN:-10}"
FARM_CHUNK="${BENCH_FARM_CHUNK:-60}"
FARM_VARIANTS="${BENCH_FARM_VARIANTS:-whole_1worker chunked_1worker chunked_2workers}"
BUILD="${BENCH_BUILD:-1}"
KEEP="${BENCH_KEEP:-0}"
FFMPEG_MATCHED="${BENCH_FFMPEG_MATCHED:-0}"
QUALITY="${BENCH_QUALITY:-0}"
MEDIA="${BENCH_MEDIA:-target/bench-media}"
RESULTS="${BENCH_RESULTS:-target/bench-results/$(date +%Y%m%d-%H%M%S)}"

# The ladder of parts 1, 2 and 5: height width kbps max_kbps profile (max = 1.5x, as in
# ladders/default.toml). One table feeds the ladder file, the ffmpeg command and the floor.
RUNGS=(
    "1080 1920 5000 7500 high"
    "720 1280 3000 4500 high"
    "480 854 1400 2100 main"
    "360 640 800 1200 main"
)
PRESET=veryfast
SEGMENT=4
FPS=30
GOP=$((SEGMENT * FPS))
AUDIO_KBPS=128

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'bench.sh: %s\n' "$*" >&2; exit 1; }
have_part() { [[ "$PARTS" == *" $1 "* ]]; }

# ---- tools -------------------------------------------------------------------------------

if [ ! -x /usr/bin/time ]; then
    [ "$(id -u)" = 0 ] || die "GNU time (/usr/bin/time) is missing: apt-get install time"
    step "Installing GNU time (Debian package: time)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends time >/dev/null \
        || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends time >/dev/null; }
fi
for tool in ffmpeg ffprobe gst-launch-1.0 gst-inspect-1.0; do
    command -v "$tool" >/dev/null || die "$tool is missing (bash scripts/setup.sh installs it)"
done
for element in x264enc avdec_h264 videoconvertscale; do
    gst-inspect-1.0 "$element" >/dev/null 2>&1 || die "GStreamer element $element is missing"
done

mkdir -p "$MEDIA" "$RESULTS"
MEDIA="$(cd "$MEDIA" && pwd)"
RESULTS="$(cd "$RESULTS" && pwd)"

if [ "$BUILD" = 1 ]; then
    step "Building target/release/vodpipe (cargo build --release -p worker)"
    cargo build --release -p worker >&2
fi
[ -x target/release/vodpipe ] || die "target/release/vodpipe is missing (cargo build --release -p worker)"
# A private copy: the shared target dir may be rebuilt by someone else mid-run.
VODPIPE="$RESULTS/vodpipe"
cp target/release/vodpipe "$VODPIPE"

# ---- the machine ---------------------------------------------------------------------------

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD -- packager worker manifest 2>/dev/null || echo ' (with uncommitted changes in manifest/packager/worker)')"
    echo "vodpipe binary: target/release/vodpipe built $(date -u -r target/release/vodpipe +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc: $(nproc)"
    lscpu | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|L2|L3|Hypervisor)' | sed 's/  */ /g'
    echo "memory: $(free -m | awk '/^Mem:/ {print $2 " MiB"}')"
    echo "kernel: $(uname -r)"
    echo "gstreamer: $(gst-launch-1.0 --version | sed -n 2p)"
    echo "ffmpeg: $(ffmpeg -hide_banner -version | head -n1)"
    echo "x264: $(dpkg-query -W -f '${Package} ${Version}' 'libx264-*' 2>/dev/null | head -n1)"
    echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "settings: BENCH_SECONDS=$SECONDS_SRC BENCH_RUNS=$RUNS BENCH_MEM_SHORT_MIN=$MEM_SHORT_MIN BENCH_MEM_LONG_MIN=$MEM_LONG_MIN BENCH_PARTS=\"$(echo $PARTS)\" BENCH_FFMPEG_MATCHED=$FFMPEG_MATCHED"
} > "$RESULTS/machine.txt"
sed -i 's/ $//' "$RESULTS/machine.txt"
cat "$RESULTS/machine.txt" >&2

# ---- sources and ladders -------------------------------------------------------------------

# A 1080p30 H.264 High + AAC source of $1 seconds: testsrc2's moving shapes plus temporal
# noise (about 8 Mb/s at CRF 21; flat synthetic pictures would flatter every encoder),
# tagged BT.709 so that no tool has to guess the colorimetry. Cached.
source_of() {
    local secs="$1" out="$MEDIA/src-1080p30-${1}s.mp4"
    if [ ! -s "$out" ]; then
        step "Generating $out (${secs} s, once)"
        ffmpeg -nostdin -hide_banner -loglevel error -y \
            -f lavfi -i "testsrc2=size=1920x1080:rate=$FPS:duration=$secs" \
            -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=$secs" \
            -filter_complex "[0:v]noise=alls=4:allf=t,format=yuv420p[v];[1:a]aformat=channel_layouts=stereo[a]" \
            -map "[v]" -map "[a]" \
            -c:v libx264 -profile:v high -preset veryfast -crf 21 -g $((2 * FPS)) \
            -colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv \
            -c:a aac -b:a 192k -movflags +faststart "$out.part.mp4"
        mv "$out.part.mp4" "$out"
    fi
    echo "$out"
}

# A $1-minute source made by repeating the 60 s one without re-encoding (cheap to make,
# same content and bitrate throughout). Cached.
long_source_of() {
    local mins="$1" out="$MEDIA/src-1080p30-${1}min.mp4" base
    base="$(source_of 60)"
    if [ ! -s "$out" ]; then
        step "Making $out (${mins} min, the 60 s source repeated, stream copy)"
        ffmpeg -nostdin -hide_banner -loglevel error -y -stream_loop -1 -i "$base" \
            -t $((mins * 60)) -c copy -movflags +faststart "$out.part.mp4"
        mv "$out.part.mp4" "$out"
    fi
    echo "$out"
}

# Part 4's source: like source_of's, but with what a copy rung needs: a keyframe exactly
# every 2 s (none at scene cuts), no B-frames, peaks capped at 10 Mb/s. 60 s of video
# encoded once, then repeated to $1 minutes without re-encoding; the audio is made for the
# whole length (repeating an AAC track with its priming would shift every loop by ~20 ms
# and put the keyframes off the 4 s boundaries). Cached.
remux_source_of() {
    local mins="$1" base="$MEDIA/src-1080p30-60s-copyable-video.mp4" out="$MEDIA/src-1080p30-${1}min-copyable.mp4"
    if [ ! -s "$base" ]; then
        step "Generating $base (60 s, fixed 2 s GOP, no B-frames, once)"
        ffmpeg -nostdin -hide_banner -loglevel error -y \
            -f lavfi -i "testsrc2=size=1920x1080:rate=$FPS:duration=60" \
            -vf "noise=alls=4:allf=t,format=yuv420p" \
            -c:v libx264 -profile:v high -preset veryfast -crf 21 -maxrate 10M -bufsize 20M \
            -g $((2 * FPS)) -keyint_min $((2 * FPS)) -sc_threshold 0 -bf 0 \
            -colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv \
            -an -movflags +faststart "$base.part.mp4"
        mv "$base.part.mp4" "$base"
    fi
    if [ ! -s "$out" ]; then
        step "Making $out (${mins} min: the video repeated by stream copy, AAC audio made for the length)"
        ffmpeg -nostdin -hide_banner -loglevel error -y -stream_loop -1 -i "$base" \
            -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=$((mins * 60))" \
            -map 0:v -map 1:a -t $((mins * 60)) -c:v copy -c:a aac -b:a 192k -ac 2 \
            -movflags +faststart "$out.part.mp4"
        mv "$out.part.mp4" "$out"
    fi
    echo "$out"
}

# ladder4.toml / ladder4-det.toml (parts 1, 2, 5) and ladder-mem.toml (part 3).
write_ladders() {
    local det rung h w kbps max profile
    for det in false true; do
        local file="$MEDIA/ladder4.toml"
        [ "$det" = true ] && file="$MEDIA/ladder4-det.toml"
        {
            echo "# Written by scripts/bench.sh: the 4-rung H.264 ladder the ffmpeg command mirrors."
            echo "name = \"bench4\""
            echo "segment_duration = $SEGMENT.0"
            echo "deterministic = $det"
            echo
            echo "[audio]"
            echo "bitrate = $((AUDIO_KBPS * 1000))"
            echo "sample_rate = 48000"
            for rung in "${RUNGS[@]}"; do
                read -r h w kbps max profile <<<"$rung"
                echo
                echo "[[rung]]"
                echo "codec = \"h264\""
                echo "height = $h"
                echo "bitrate = $((kbps * 1000))"
                echo "max_bitrate = $((max * 1000))"
                echo "profile = \"$profile\""
                echo "preset = \"$PRESET\""
            done
        } > "$file"
    done
    cat > "$MEDIA/ladder-mem.toml" <<EOF
# Written by scripts/bench.sh: a cheap 2-rung ladder so that a 20-minute run stays affordable.
name = "bench-mem"
segment_duration = $SEGMENT.0
deterministic = false

[audio]
bitrate = $((AUDIO_KBPS * 1000))
sample_rate = 48000

[[rung]]
codec = "h264"
height = 480
bitrate = 1400000
max_bitrate = 2100000
profile = "main"
preset = "ultrafast"

[[rung]]
codec = "h264"
height = 240
bitrate = 400000
max_bitrate = 600000
profile = "main"
preset = "ultrafast"
EOF
}

# ---- the commands being compared ----------------------------------------------------------

# Each cmd_* sets CMD to an argument vector (GNU time runs programs, not shell functions).

# vodpipe transcode SRC OUT LADDER: the title lands in OUT/t/.
cmd_vodpipe() {
    CMD=("$VODPIPE" transcode "$1" --out "$2" --video-id t --ladder "$3")
}

# The ffmpeg CLI ladder as an ffmpeg user writes it: one decode, split, scale, 4x libx264
# (preset, bitrate, maxrate, bufsize = 2 s at maxrate, fixed 4 s GOP without scene cuts;
# everything else, B-frames included, at ffmpeg's defaults), AAC, HLS fMP4 with a master
# playlist. Each rendition in OUT/<id>/, ids as vodpipe names them. `temp_file` makes
# ffmpeg write each segment under a temporary name and rename it, as vodpipe's folder store
# does, so that a segment that exists is complete (part 5 relies on that).
#
# cmd_ffmpeg SRC OUT matched: the same, but with the x264 settings vodpipe ends up with (see
# packager/src/encode.rs and the SEI dump in x264-settings.txt): no B-frames, and the VBV
# capped at the average bitrate with the same buffer (x264enc always sets maxrate = bitrate).
cmd_ffmpeg() {
    local src="$1" out="$2" matched="${3:-}" graph="[0:v]split=${#RUNGS[@]}" maps=() enc=() streams="" i=0 rung h w kbps max profile
    for i in "${!RUNGS[@]}"; do graph+="[s$i]"; done
    for i in "${!RUNGS[@]}"; do
        read -r h w kbps max profile <<<"${RUNGS[$i]}"
        graph+=";[s$i]scale=$w:$h[v$i]"
        maps+=(-map "[v$i]")
        if [ "$matched" = matched ]; then
            enc+=("-b:v:$i" "${kbps}k" "-maxrate:v:$i" "${kbps}k" "-bufsize:v:$i" "$((2 * max))k" "-profile:v:$i" "$profile" "-bf:v:$i" 0)
        else
            enc+=("-b:v:$i" "${kbps}k" "-maxrate:v:$i" "${max}k" "-bufsize:v:$i" "$((2 * max))k" "-profile:v:$i" "$profile")
        fi
        streams+="v:$i,agroup:aud,name:h264_${h}p "
    done
    streams+="a:0,agroup:aud,name:audio"
    mkdir -p "$out"
    CMD=(ffmpeg -nostdin -hide_banner -loglevel error -y -i "$src" \
        -filter_complex "$graph" "${maps[@]}" -map 0:a \
        -c:v libx264 -preset "$PRESET" -g "$GOP" -keyint_min "$GOP" -sc_threshold 0 "${enc[@]}" \
        -c:a aac -b:a "${AUDIO_KBPS}k" -ac 2 -ar 48000 \
        -f hls -hls_time "$SEGMENT" -hls_playlist_type vod -hls_segment_type fmp4 \
        -hls_flags independent_segments+temp_file -hls_fmp4_init_filename init.mp4 \
        -master_pl_name master.m3u8 -var_stream_map "$streams" \
        -hls_segment_filename "$out/%v/seg-%05d.m4s" "$out/%v/playlist.m3u8")
}

# The encoders' floor: what vodpipe's video branches cost without the packaging around
# them. filesrc ! decodebin (the same demuxer and decoders vodpipe gets; audio decoded and
# dropped) ! tee ! per rung: queue (8 frames, as vodpipe's) ! videoconvertscale ! I420 at
# the rung's size with BT.709 pinned ! x264enc with the properties packager/src/encode.rs
# sets ! the rung's profile ! fakesink. Left out: videorate, h264parse, cmafmux, appsink,
# sha256, storage writes, the AAC encoder, the poster and sprite branches.
# $2: threads for x264enc (0 = auto, as deterministic = false; 1 as deterministic = true).
cmd_floor() {
    local src="$1" threads="$2" q="queue max-size-buffers=8 max-size-bytes=0 max-size-time=0" args=() rung h w kbps max profile vbv
    args+=(filesrc "location=$src" ! decodebin name=d
        d. ! audio/x-raw ! queue ! fakesink sync=false
        d. ! video/x-raw ! $q ! tee name=t)
    for rung in "${RUNGS[@]}"; do
        read -r h w kbps max profile <<<"$rung"
        vbv=$((2000 * max / kbps))
        [ "$vbv" -gt 10000 ] && vbv=10000
        args+=(t. ! $q ! videoconvertscale
            ! "video/x-raw,format=I420,width=$w,height=$h,pixel-aspect-ratio=1/1,colorimetry=bt709"
            ! x264enc "speed-preset=$PRESET" "key-int-max=$GOP" bframes=0 b-adapt=false "threads=$threads"
                pass=cbr "bitrate=$kbps" "vbv-buf-capacity=$vbv" "option-string=scenecut=0:open-gop=0"
            ! "video/x-h264,profile=$profile,stream-format=avc,alignment=au" ! fakesink sync=false)
    done
    CMD=(gst-launch-1.0 -q "${args[@]}")
}

# ---- measuring -----------------------------------------------------------------------------

RAW="$RESULTS/runs.tsv"
RATES="$RESULTS/bitrates.tsv"
TTFS="$RESULTS/ttfs.tsv"
[ -s "$RAW" ] || printf 'part\tround\tvariant\twall_s\tuser_s\tsys_s\tpeak_rss_kib\tload1_before\tstatus\n' > "$RAW"
[ -s "$RATES" ] || printf 'round\tvariant\trendition\tsegments\tseconds\tkbps\n' > "$RATES"
[ -s "$TTFS" ] || printf 'run\tvariant\trendition\tms\n' > "$TTFS"

# watch_first_segments ROUND VARIANT PID T0: while PID runs, polls $WATCH_DIR/*/$WATCH_NAME
# every 5 ms and records, per rendition, the milliseconds from T0 (just before the process
# was started) until the file exists; stops polling once every rendition has one. Both
# tools write a segment under a temporary name and rename it, so existing means stored.
watch_first_segments() {
    local round="$1" variant="$2" pid="$3" t0="$4" f name now expected=$((${#RUNGS[@]} + 1))
    local -A seen=()
    exec 9<> <(:)
    while kill -0 "$pid" 2>/dev/null && [ "${#seen[@]}" -lt "$expected" ]; do
        for f in "$WATCH_DIR"/*/"$WATCH_NAME"; do
            [ -e "$f" ] || continue
            name="${f%/*}"
            name="${name##*/}"
            if [ -z "${seen[$name]:-}" ]; then
                now="${EPOCHREALTIME/./}"
                seen[$name]=$(((now - t0) / 1000))
            fi
        done
        read -r -t 0.005 -u 9 || true
    done
    exec 9<&-
    for name in "${!seen[@]}"; do
        printf '%s\t%s\t%s\t%s\n' "$round" "$variant" "$name" "${seen[$name]}" >> "$TTFS"
    done
}

# timed PART ROUND VARIANT LOG -- COMMAND...: one run under GNU time, appended to runs.tsv.
# With WATCH_DIR and WATCH_NAME set, also records the time to each rendition's first segment.
timed() {
    local part="$1" round="$2" variant="$3" log="$4" tf status load t0 pid
    shift 5
    tf="$(mktemp)"
    load="$(cut -d' ' -f1 /proc/loadavg)"
    step "part $part, round $round: $variant (load $load)"
    t0="${EPOCHREALTIME/./}"
    /usr/bin/time -f '%e\t%U\t%S\t%M' -o "$tf" "$@" >"$log" 2>&1 &
    pid=$!
    if [ -n "${WATCH_DIR:-}" ]; then
        watch_first_segments "$round" "$variant" "$pid" "$t0"
    fi
    status=0
    wait "$pid" || status=$?
    if [ "$status" != 0 ]; then
        printf 'bench.sh: %s exited %s; last lines of %s:\n' "$variant" "$status" "$log" >&2
        tail -n 5 "$log" >&2
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$part" "$round" "$variant" "$(tail -n1 "$tf")" "$load" "$status" >> "$RAW"
    rm -f "$tf"
    return "$status"
}

# bitrates ROUND VARIANT TITLE_DIR: per rendition, media segment bytes x 8 / summed EXTINF,
# both read from the rendition's own playlist (init segments not counted).
bitrates() {
    local round="$1" variant="$2" dir="$3" pl rdir
    for pl in "$dir"/*/playlist.m3u8; do
        rdir="$(dirname "$pl")"
        awk -v dir="$rdir" -v round="$round" -v variant="$variant" -v name="$(basename "$rdir")" '
            /^#EXTINF:/ { sub(/^#EXTINF:/, ""); sub(/,.*/, ""); secs += $0; next }
            /^[^#]/ && NF {
                n++
                cmd = "stat -c %s \"" dir "/" $0 "\""
                cmd | getline size
                close(cmd)
                bytes += size
            }
            END { printf "%s\t%s\t%s\t%d\t%.3f\t%.0f\n", round, variant, name, n, secs, (secs > 0 ? bytes * 8 / secs / 1000 : 0) }
        ' "$pl" >> "$RATES"
    done
}

# The x264 settings each tool really used, from the SEI x264 writes into the stream.
x264_settings() {
    local file="$1" label="$2" found
    found="$(LC_ALL=C tr -c '[:print:]' '\n' < "$file" | grep -m1 'x264 - core' || true)"
    printf '%s: %s\n' "$label" "${found:-(no x264 SEI found)}"
}

# quality VARIANT RENDITION_DIR SRC: the rendition's init segment and media segments in
# playlist order make one fMP4 file; ffmpeg compares it frame by frame with the source.
quality() {
    local variant="$1" dir="$2" src="$3" joined log ssim psnr
    joined="$(mktemp --suffix=.mp4)"
    log="$RESULTS/logs/quality-$variant.log"
    cat "$dir"/init*.mp4 $(awk -v dir="$dir" '/^[^#]/ && NF { print dir "/" $0 }' "$dir/playlist.m3u8") > "$joined"
    step "quality of $variant $(basename "$dir") against the source"
    ffmpeg -nostdin -hide_banner -i "$joined" -i "$src" -lavfi \
        "[0:v]setpts=PTS-STARTPTS,split[a1][a2];[1:v]setpts=PTS-STARTPTS,split[b1][b2];[a1][b1]ssim;[a2][b2]psnr" \
        -an -f null - > "$log" 2>&1 || true
    rm -f "$joined"
    ssim="$(grep -o 'SSIM .*All:[0-9.]*' "$log" | sed 's/.*All://' | tail -n1)"
    psnr="$(grep -o 'PSNR .*average:[0-9.inf]*' "$log" | sed 's/.*average://' | tail -n1)"
    printf '%s\t%s\t%s\t%s\n' "$variant" "$(basename "$dir")" "${ssim:-?}" "${psnr:-?}" >> "$RESULTS/quality.tsv"
}

finish_output() {
    [ "$KEEP" = 1 ] || rm -rf "$1"
}

# ---- part 1 + 2: ladder against ffmpeg and against the encoders' floor ----------------------

write_ladders
if have_part 1 || have_part 2 || have_part 5; then
    SRC="$(source_of "$SECONDS_SRC")"
fi

if have_part 1 || have_part 2; then
    variants=()
    have_part 1 && variants+=(vodpipe ffmpeg vodpipe_det)
    have_part 1 && [ "$FFMPEG_MATCHED" = 1 ] && variants+=(ffmpeg_matched)
    have_part 2 && { have_part 1 || variants+=(vodpipe); variants+=(floor); }
    n=${#variants[@]}
    for round in $(seq 1 "$RUNS"); do
        for k in $(seq 0 $((n - 1))); do
            variant="${variants[$(((k + round - 1) % n))]}"
            out="$RESULTS/out/$variant-$round"
            rm -rf "$out"
            mkdir -p "$out"
            log="$RESULTS/logs/$variant-$round.log"
            mkdir -p "$(dirname "$log")"
            WATCH_DIR=""
            case "$variant" in
                vodpipe) cmd_vodpipe "$SRC" "$out" "$MEDIA/ladder4.toml"; part=1; title="$out/t"; WATCH_NAME=seg-00001.m4s ;;
                vodpipe_det) cmd_vodpipe "$SRC" "$out" "$MEDIA/ladder4-det.toml"; part=1; title="$out/t"; WATCH_NAME=seg-00001.m4s ;;
                # ffmpeg numbers segments from 0.
                ffmpeg) cmd_ffmpeg "$SRC" "$out"; part=1; title="$out"; WATCH_NAME=seg-00000.m4s ;;
                ffmpeg_matched) cmd_ffmpeg "$SRC" "$out" matched; part=1; title="$out"; WATCH_NAME=seg-00000.m4s ;;
                floor) cmd_floor "$SRC" 0; part=2; title="" ;;
            esac
            have_part 5 && [ -n "$title" ] && WATCH_DIR="$title"
            if timed "$part" "$round" "$variant" "$log" -- "${CMD[@]}" && [ -n "$title" ]; then
                bitrates "$round" "$variant" "$title"
            fi
            if [ "$round" = 1 ]; then
                case "$variant" in
                    vodpipe|vodpipe_det) [ -f "$out/t/h264_1080p/seg-00001.m4s" ] && x264_settings "$out/t/h264_1080p/seg-00001.m4s" "$variant 1080p" >> "$RESULTS/x264-settings.txt" ;;
                    ffmpeg|ffmpeg_matched) [ -f "$out/h264_1080p/seg-00000.m4s" ] && x264_settings "$out/h264_1080p/seg-00000.m4s" "$variant 1080p" >> "$RESULTS/x264-settings.txt" ;;
                esac || true
            fi
            if [ "$round" = 1 ] && [ "$QUALITY" = 1 ] && [ -n "$title" ] && [ -f "$title/h264_1080p/playlist.m3u8" ]; then
                [ -s "$RESULTS/quality.tsv" ] || printf 'variant\trendition\tssim_all\tpsnr_avg_db\n' > "$RESULTS/quality.tsv"
                quality "$variant" "$title/h264_1080p" "$SRC"
            fi
            finish_output "$out"
        done
    done
fi

# ---- part 3: memory on a short and a long source -----------------------------------------

if have_part 3; then
    short="$(long_source_of "$MEM_SHORT_MIN")"
    long="$(long_source_of "$MEM_LONG_MIN")"
    WATCH_DIR=""
    for round in $(seq 1 "$RUNS"); do
        for pair in "short:$short" "long:$long"; do
            which="${pair%%:*}"
            src="${pair#*:}"
            out="$RESULTS/out/mem-$which"
            rm -rf "$out"
            mkdir -p "$out" "$RESULTS/logs"
            cmd_vodpipe "$src" "$out" "$MEDIA/ladder-mem.toml"
            timed 3 "$round" "mem_$which" "$RESULTS/logs/mem-$which-$round.log" -- "${CMD[@]}" || true
            finish_output "$out"
        done
    done
fi

# ---- part 4: remux-only packaging ---------------------------------------------------------
# A source a copy rung fits (see remux_source_of), vodpipe with that one copy rung (its log
# must say "(copy)") against ffmpeg -c copy to HLS fMP4 with the same 4 s segments, rounds
# alternating which goes first. Throughput = source bytes / wall time.

if have_part 4; then
    remux_src="$(remux_source_of "$REMUX_MIN")"
    cat > "$MEDIA/ladder-copy.toml" <<EOF
# Written by scripts/bench.sh: one 1080p rung and the audio that the remux source already is
# (192 kb/s AAC-LC stereo: within the default audio max_bitrate, 1.5x 128 kb/s).
name = "bench-copy"
segment_duration = $SEGMENT.0
deterministic = false

[audio]
bitrate = $((AUDIO_KBPS * 1000))
sample_rate = 48000
copy = true

[[rung]]
codec = "h264"
height = 1080
bitrate = 8000000
max_bitrate = 12000000
profile = "high"
copy = true
EOF
    # The second yardstick: ffmpeg doing everything a remux-only job does (the stream copy, a
    # poster, trick-play sprites from keyframes at vodpipe's interval and tile size, SHA-256
    # of the source and of every segment), its parts run side by side as a script could.
    sprite_s=$((REMUX_MIN * 60 / 50)); [ "$sprite_s" -lt 1 ] && sprite_s=1; [ "$sprite_s" -gt 10 ] && sprite_s=10
    cat > "$MEDIA/ffmpeg-copy-full.sh" <<EOF
#!/bin/sh
# Written by scripts/bench.sh: ffmpeg and sha256sum making what a remux-only vodpipe job makes.
set -e
src="\$1" out="\$2"
ffmpeg -nostdin -hide_banner -loglevel error -y -i "\$src" -map 0:v -map 0:a -c copy \\
    -f hls -hls_time $SEGMENT -hls_playlist_type vod -hls_segment_type fmp4 \\
    -hls_flags independent_segments+temp_file -hls_fmp4_init_filename init.mp4 \\
    -hls_segment_filename "\$out/seg-%05d.m4s" "\$out/playlist.m3u8" &
copy=\$!
ffmpeg -nostdin -hide_banner -loglevel error -y -skip_frame nokey -i "\$src" -an \\
    -vf "fps=1/$sprite_s,scale=160:-2,tile=10x10" -q:v 3 "\$out/sprite-%03d.jpg" &
sprites=\$!
ffmpeg -nostdin -hide_banner -loglevel error -y -i "\$src" -an -frames:v 1 -vf scale=-2:720 "\$out/poster.jpg"
sha256sum "\$src" > "\$out/source.sha256"
wait \$copy
wait \$sprites
sha256sum "\$out"/init.mp4 "\$out"/seg-*.m4s > "\$out/segments.sha256"
EOF
    echo "remux source: $remux_src, $(stat -c %s "$remux_src") bytes" >> "$RESULTS/machine.txt"
    WATCH_DIR=""
    for round in $(seq 1 "$RUNS"); do
        order=(vodpipe_copy ffmpeg_copy ffmpeg_copy_full)
        [ $((round % 3)) = 2 ] && order=(ffmpeg_copy ffmpeg_copy_full vodpipe_copy)
        [ $((round % 3)) = 0 ] && order=(ffmpeg_copy_full vodpipe_copy ffmpeg_copy)
        for variant in "${order[@]}"; do
            out="$RESULTS/out/$variant-$round"
            rm -rf "$out"
            mkdir -p "$out" "$RESULTS/logs"
            log="$RESULTS/logs/$variant-$round.log"
            if [ "$variant" = vodpipe_copy ]; then
                cmd_vodpipe "$remux_src" "$out" "$MEDIA/ladder-copy.toml"
            elif [ "$variant" = ffmpeg_copy_full ]; then
                CMD=(sh "$MEDIA/ffmpeg-copy-full.sh" "$remux_src" "$out")
            else
                CMD=(ffmpeg -nostdin -hide_banner -loglevel error -y -i "$remux_src" -map 0:v -map 0:a -c copy
                    -f hls -hls_time "$SEGMENT" -hls_playlist_type vod -hls_segment_type fmp4
                    -hls_flags independent_segments+temp_file -hls_fmp4_init_filename init.mp4
                    -hls_segment_filename "$out/seg-%05d.m4s" "$out/playlist.m3u8")
            fi
            timed 4 "$round" "$variant" "$log" -- "${CMD[@]}" || true
            if [ "$variant" = vodpipe_copy ] && ! { grep -q "h264_1080p (copy)" "$log" && grep -q "copying the source's audio" "$log"; }; then
                printf 'bench.sh: part 4 round %s: vodpipe did not copy the 1080p rung and the audio (see %s)\n' "$round" "$log" >&2
                echo "part 4 round $round: vodpipe did NOT copy (see $log)" >> "$RESULTS/machine.txt"
            fi
            finish_output "$out"
        done
    done
fi

# ---- part 5: time to first stored segment ------------------------------------------------
# Measured during the runs of part 1 (see watch_first_segments); on its own, N more runs.

if have_part 5 && ! have_part 1; then
    for round in $(seq 1 "$RUNS"); do
        out="$RESULTS/out/vodpipe-ttfs-$round"
        rm -rf "$out"
        mkdir -p "$out" "$RESULTS/logs"
        cmd_vodpipe "$SRC" "$out" "$MEDIA/ladder4.toml"
        WATCH_DIR="$out/t" WATCH_NAME=seg-00001.m4s
        timed 5 "$round" vodpipe "$RESULTS/logs/vodpipe-ttfs-$round.log" -- "${CMD[@]}" || true
        finish_output "$out"
    done
fi
WATCH_DIR=""

# ---- part 6: a title in chunks ------------------------------------------------------------
# The part 1 ladder on a BENCH_CHUNK_SECONDS source, in one pipeline (--chunk-duration 0) and
# in BENCH_CHUNK_DURATION chunks: pinned to CPU 0 (--jobs 1), and on both CPUs (--jobs 2).
# Variants rotate from round to round, as in part 1.

if have_part 6; then
    command -v taskset >/dev/null || die "part 6 needs taskset (Debian: util-linux)"
    chunk_src="$(source_of "$CHUNK_SECONDS")"
    variants=(whole_1cpu chunked_1cpu whole_2cpu chunked_2jobs)
    n=${#variants[@]}
    for round in $(seq 1 "$RUNS"); do
        for k in $(seq 0 $((n - 1))); do
            variant="${variants[$(((k + round - 1) % n))]}"
            out="$RESULTS/out/$variant"
            rm -rf "$out"
            mkdir -p "$out" "$RESULTS/logs"
            cmd_vodpipe "$chunk_src" "$out" "$MEDIA/ladder4.toml"
            case "$variant" in
                whole_1cpu) CMD=(taskset -c 0 "${CMD[@]}" --chunk-duration 0) ;;
                chunked_1cpu) CMD=(taskset -c 0 "${CMD[@]}" --chunk-duration "$CHUNK_DURATION" --jobs 1) ;;
                whole_2cpu) CMD+=(--chunk-duration 0) ;;
                chunked_2jobs) CMD+=(--chunk-duration "$CHUNK_DURATION" --jobs 2) ;;
            esac
            timed 6 "$round" "$variant" "$RESULTS/logs/$variant-$round.log" -- "${CMD[@]}" || true
            finish_output "$out"
        done
    done
fi

# ---- part 7: one title over the queue's workers -------------------------------------------
# Part 4's 1080p source (60 s of video repeated, audio made whole) at BENCH_FARM_MIN
# minutes, submitted with the default ladder to a
# RabbitMQ virtual host of its own and a fresh output bucket per run. Variants:
#   whole_1worker     one worker on CPU 0, --chunk-duration 0 (the title in one pipeline)
#   chunked_1worker   one worker on CPU 0, BENCH_FARM_CHUNK s chunks (it makes every chunk
#                     and the audio-and-thumbnails part)
#   chunked_2workers  two workers, on CPU 0 and CPU 1, sharing the chunks
# Timed from just before `vodpipe submit` (upload + queue) until a worker logs "job done",
# and from the title's "job started". The workers log each chunk's seconds and bytes read.

# farm_run ROUND VARIANT: one submitted title, its figures appended to $FARM.
farm_run() {
    local round="$1" variant="$2" cpus chunk dir job t0 t1 started done_at bucket vid w log
    case "$variant" in
        whole_1worker) cpus=(0); chunk=0 ;;
        chunked_1worker) cpus=(0); chunk="$FARM_CHUNK" ;;
        chunked_2workers) cpus=(0 1); chunk="$FARM_CHUNK" ;;
        *) die "part 7: unknown variant $variant (BENCH_FARM_VARIANTS)" ;;
    esac
    dir="$RESULTS/farm/$variant-$round"
    mkdir -p "$dir"
    vid="farm-$variant-$round-$$"
    vid="${vid//_/-}"
    bucket="vodpipe-bench-$round-$$-${variant//_/-}"
    bucket="${bucket:0:63}"
    local pids=()
    for w in "${cpus[@]}"; do
        VODPIPE_OUTPUT_BUCKET="$bucket" NO_COLOR=1 VODPIPE_LOG=info \
            taskset -c "$w" "$VODPIPE" worker --work-dir "$dir/work-$w" --prefetch 1 >"$dir/worker-$w.log" 2>&1 &
        pids+=($!)
    done
    sleep 2
    step "part 7, round $round: $variant (load $(cut -d' ' -f1 /proc/loadavg))"
    t0="${EPOCHREALTIME/./}"
    job="$("$VODPIPE" submit "$farm_src" --video-id "$vid" --chunk-duration "$chunk" 2>"$dir/submit.log" | tail -n1)"
    until grep -q "job done" "$dir"/worker-*.log 2>/dev/null; do
        if grep -q "job failed" "$dir"/worker-*.log 2>/dev/null; then
            kill "${pids[@]}" 2>/dev/null
            die "part 7: $variant failed: $(grep -h "job failed" "$dir"/worker-*.log | head -n1)"
        fi
        for w in "${pids[@]}"; do
            kill -0 "$w" 2>/dev/null || { kill "${pids[@]}" 2>/dev/null; die "part 7: a worker exited, see $dir"; }
        done
        sleep 0.2
    done
    t1="${EPOCHREALTIME/./}"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    log="$(grep -l "job done" "$dir"/worker-*.log | head -n1)"
    # Log lines start with an RFC 3339 time: "job started" to "job done" on the title's worker.
    started="$(grep -m1 "job started" "$log" | cut -d' ' -f1)"
    done_at="$(grep -m1 "job done" "$log" | cut -d' ' -f1)"
    local in_job
    in_job="$(python3 -c 'import sys, datetime as d; p = lambda s: d.datetime.fromisoformat(s.replace("Z", "+00:00")); print(f"{(p(sys.argv[2]) - p(sys.argv[1])).total_seconds():.2f}")' "$started" "$done_at")"
    local chunks chunk_s read_mb
    # Each "chunk stored" line: seconds="12.34" ... source_bytes_read=N (none for a whole title).
    chunks="$(awk '/chunk stored/ { n++ } END { print n + 0 }' "$dir"/worker-*.log)"
    chunk_s="$(awk '/chunk stored/ && match($0, /seconds="?[0-9.]+/) { s = substr($0, RSTART, RLENGTH); gsub(/[^0-9.]/, "", s); printf "%s ", s }' "$dir"/worker-*.log)"
    read_mb="$(awk '/chunk stored/ && match($0, /source_bytes_read=[0-9]+/) { s += substr($0, RSTART + 18, RLENGTH - 18) } END { printf "%.1f", s / 1e6 }' "$dir"/worker-*.log)"
    printf '%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\n' "$round" "$variant" "$job" "$(((t1 - t0) / 10000))e-2" "$in_job" "$chunks" "$read_mb" "$(stat -c %s "$farm_src")" "$chunk_s" >> "$FARM"
    [ "$KEEP" = 1 ] || rm -rf "$dir"/work-*
}

FARM="$RESULTS/farm.tsv"
if have_part 7; then
    command -v taskset >/dev/null || die "part 7 needs taskset (Debian: util-linux)"
    # Part 4's source, not long_source_of's: repeating an AAC track by stream copy moves
    # every loop 10.7 ms later, off the 30 fps grid, and such a title is not cut (the log
    # says why); part 4's repeats only the video and makes the audio for the whole length.
    farm_src="$(remux_source_of "$FARM_MIN")"
    step "Starting RabbitMQ and SeaweedFS (scripts/services.sh)"
    eval "$(bash scripts/services.sh start)"
    farm_vhost="vodpipe-bench-$$"
    rabbitmqctl -q add_vhost "$farm_vhost" >/dev/null
    rabbitmqctl -q set_permissions -p "$farm_vhost" guest '.*' '.*' '.*' >/dev/null
    export AMQP_URL="${AMQP_URL%/*}/$farm_vhost"
    printf 'round\tvariant\tjob\tsubmit_to_done_s\tstarted_to_done_s\tchunks\tsource_mb_read_by_chunks\tsource_bytes\tchunk_seconds\n' > "$FARM"
    read -r -a variants <<<"$FARM_VARIANTS"
    n=${#variants[@]}
    for round in $(seq 1 "$RUNS"); do
        for k in $(seq 0 $((n - 1))); do
            farm_run "$round" "${variants[$(((k + round - 1) % n))]}"
        done
    done
    rabbitmqctl -q delete_vhost "$farm_vhost" >/dev/null || true
fi

# ---- micro: the criterion benches -------------------------------------------------------

MICRO="$RESULTS/criterion.tsv"
if have_part micro; then
    target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    printf 'run\tbenchmark\tmedian_ns\tthroughput_unit\tper_iteration\n' > "$MICRO"
    mkdir -p "$RESULTS/logs"
    for run in $(seq 1 "$RUNS"); do
        step "micro, run $run: cargo bench -p vodpipe-benches (load $(cut -d' ' -f1 /proc/loadavg))"
        rm -rf "$target_dir/criterion/manifest_2h_6v1a" "$target_dir/criterion/media_playlist_1800_segments" "$target_dir/criterion/sha256_4MiB"
        cargo bench -p vodpipe-benches > "$RESULTS/logs/criterion-$run.log" 2>&1 || die "cargo bench failed, see $RESULTS/logs/criterion-$run.log"
        python3 - "$target_dir/criterion" "$run" >> "$MICRO" <<'PY'
import json, pathlib, sys
root, run = pathlib.Path(sys.argv[1]), sys.argv[2]
for bench in sorted(root.glob("*/*/new/benchmark.json")):
    meta = json.loads(bench.read_text())
    median = json.loads((bench.parent / "estimates.json").read_text())["median"]["point_estimate"]
    (unit, amount), = (meta.get("throughput") or {"none": 0}).items()
    print(f"{run}\t{meta['full_id']}\t{median:.0f}\t{unit}\t{amount}")
PY
    done
    grep -h '^title:' "$RESULTS/logs/criterion-1.log" | head -n1 | sed 's/^/manifest bench /' > "$RESULTS/criterion-sizes.txt" || true
fi

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RESULTS/machine.txt"

# ---- summary -------------------------------------------------------------------------------

summary() {
    echo "## Results ($(date -u +%Y-%m-%d), $RESULTS)"
    echo
    echo '```'
    cat "$RESULTS/machine.txt"
    echo '```'
    echo
    [ "$(wc -l < "$RAW")" -gt 1 ] && awk -F'\t' '
        function median(list,   a, n, i, j, t) {
            n = split(list, a, " ")
            for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
            if (n == 0) return ""
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        function range(list,   a, n, i, lo, hi) {
            n = split(list, a, " ")
            lo = hi = a[1]
            for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
            return sprintf("%.2f-%.2f", lo, hi)
        }
        function ratio(num, den, metric, label,   r, list, k) {
            list = ""
            for (r = 1; r <= maxround; r++) {
                k = r SUBSEP num
                if ((k, metric) in v && (r SUBSEP den, metric) in v && v[r, den, metric] > 0)
                    list = list " " v[k, metric] / v[r, den, metric]
            }
            if (list == "") return
            printf "| %s | %.3f | %s |\n", label, median(list), range(list)
        }
        NR == 1 { next }
        $9 != 0 { failed[$3]++; next }
        {
            cpu = $5 + $6
            v[$2, $3, "wall"] = $4; v[$2, $3, "cpu"] = cpu; v[$2, $3, "rss"] = $7
            walls[$3] = walls[$3] " " $4; cpus[$3] = cpus[$3] " " cpu; rss[$3] = rss[$3] " " $7
            loads[$3] = loads[$3] " " $8; count[$3]++
            if ($2 > maxround) maxround = $2
            if (!($3 in order)) { order[$3] = ++nv; names[nv] = $3 }
        }
        END {
            print "| variant | runs | wall s (median) | CPU s user+sys (median) | peak RSS MiB (median) | 1-min load before runs |"
            print "|---|---|---|---|---|---|"
            for (i = 1; i <= nv; i++) {
                n = names[i]
                printf "| %s | %d%s | %.2f | %.2f | %.1f | %s |\n", n, count[n], failed[n] ? " (+" failed[n] " failed)" : "", median(walls[n]), median(cpus[n]), median(rss[n]) / 1024, range(loads[n])
            }
            print ""
            print "| ratio (paired within a round) | median | range |"
            print "|---|---|---|"
            ratio("vodpipe", "ffmpeg", "wall", "wall vodpipe / ffmpeg (target <= 0.9)")
            ratio("vodpipe", "ffmpeg", "cpu", "CPU vodpipe / ffmpeg")
            ratio("vodpipe", "ffmpeg", "rss", "peak RSS vodpipe / ffmpeg")
            ratio("vodpipe_det", "ffmpeg", "wall", "wall vodpipe_det / ffmpeg")
            ratio("vodpipe_det", "ffmpeg", "cpu", "CPU vodpipe_det / ffmpeg")
            ratio("vodpipe", "ffmpeg_matched", "wall", "wall vodpipe / ffmpeg_matched")
            ratio("vodpipe", "ffmpeg_matched", "cpu", "CPU vodpipe / ffmpeg_matched")
            ratio("vodpipe", "floor", "wall", "wall vodpipe / encoders floor (target <= 1.05)")
            ratio("vodpipe", "floor", "cpu", "CPU vodpipe / encoders floor")
            ratio("mem_long", "mem_short", "rss", "peak RSS mem_long / mem_short (target <= 1.1)")
            ratio("chunked_1cpu", "whole_1cpu", "wall", "wall chunked / whole, one CPU (the cost of chunking)")
            ratio("chunked_1cpu", "whole_1cpu", "cpu", "CPU chunked / whole, one CPU")
            ratio("chunked_2jobs", "whole_2cpu", "wall", "wall chunked (--jobs 2) / whole, two CPUs")
            ratio("chunked_2jobs", "whole_2cpu", "rss", "peak RSS chunked (--jobs 2) / whole")
            ratio("ffmpeg_copy", "vodpipe_copy", "wall", "remux throughput vodpipe_copy / ffmpeg_copy (target >= 1)")
            ratio("vodpipe_copy", "ffmpeg_copy", "cpu", "remux CPU vodpipe_copy / ffmpeg_copy")
            ratio("ffmpeg_copy_full", "vodpipe_copy", "wall", "remux throughput vodpipe_copy / ffmpeg_copy_full (same outputs)")
            ratio("vodpipe_copy", "ffmpeg_copy_full", "cpu", "remux CPU vodpipe_copy / ffmpeg_copy_full")
        }
    ' "$RAW"
    if [ "$(wc -l < "$RATES")" -gt 1 ]; then
        echo
        echo "Output bitrates, kb/s (media segment bytes x 8 / playlist duration; median over runs):"
        echo
        awk -F'\t' '
            function median(list,   a, n, i, j, t) {
                n = split(list, a, " ")
                for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
                return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            }
            NR == 1 { next }
            {
                k[$3, $2] = k[$3, $2] " " $6; segs[$3, $2] = $4 " x " sprintf("%.1f", $5 / $4) " s"
                if (!($3 in ro)) { ro[$3] = ++nr; rn[nr] = $3 }
                if (!($2 in vo)) { vo[$2] = ++nv; vn[nv] = $2 }
            }
            END {
                printf "| rendition |"; for (j = 1; j <= nv; j++) printf " %s |", vn[j]; print ""
                printf "|---|"; for (j = 1; j <= nv; j++) printf "---|"; print ""
                for (i = 1; i <= nr; i++) {
                    printf "| %s |", rn[i]
                    for (j = 1; j <= nv; j++) printf " %s |", ((rn[i], vn[j]) in k) ? sprintf("%.0f (%s)", median(k[rn[i], vn[j]]), segs[rn[i], vn[j]]) : "-"
                    print ""
                }
            }
        ' "$RATES"
    fi
    if [ "$(wc -l < "$TTFS")" -gt 1 ]; then
        echo
        echo "Time to first stored segment, ms from process start (median over runs):"
        echo
        awk -F'\t' '
            function median(list,   a, n, i, j, t) {
                n = split(list, a, " ")
                for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
                return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            }
            NR == 1 { next }
            {
                ms[$2, $3] = ms[$2, $3] " " $4
                if (!(($2, $1) in first) || $4 < first[$2, $1]) first[$2, $1] = $4
                runs[$2] = runs[$2] " " $1
                if (!($3 in ro)) { ro[$3] = ++nr; rn[nr] = $3 }
                if (!($2 in vo)) { vo[$2] = ++nv; vn[nv] = $2 }
            }
            END {
                printf "| rendition |"; for (j = 1; j <= nv; j++) printf " %s |", vn[j]; print ""
                printf "|---|"; for (j = 1; j <= nv; j++) printf "---|"; print ""
                for (j = 1; j <= nv; j++) for (key in first) { split(key, p, SUBSEP); if (p[1] == vn[j]) fl[vn[j]] = fl[vn[j]] " " first[key] }
                printf "| first of any |"; for (j = 1; j <= nv; j++) printf " %s |", median(fl[vn[j]]); print ""
                for (i = 1; i <= nr; i++) {
                    printf "| %s |", rn[i]
                    for (j = 1; j <= nv; j++) printf " %s |", ((vn[j], rn[i]) in ms) ? median(ms[vn[j], rn[i]]) : "-"
                    print ""
                }
            }
        ' "$TTFS"
    fi
    if [ -s "$RESULTS/quality.tsv" ]; then
        echo
        echo "Quality of the 1080p rendition against the source (round 1; SSIM All, PSNR average dB):"
        echo
        echo "| variant | rendition | SSIM | PSNR dB |"
        echo "|---|---|---|---|"
        tail -n +2 "$RESULTS/quality.tsv" | awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }'
    fi
    if [ -s "$FARM" ] && [ "$(wc -l < "$FARM")" -gt 1 ]; then
        echo
        echo "One title on the queue (part 7: ${FARM_MIN} min 1080p source, default ladder, ${FARM_CHUNK} s chunks; medians over rounds):"
        echo
        awk -F'\t' '
            function median(list,   a, n, i, j, t) {
                n = split(list, a, " ")
                for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
                return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            }
            NR == 1 { next }
            {
                total[$2] = total[$2] " " $4; injob[$2] = injob[$2] " " $5; chunks[$2] = $6; mb[$2] = mb[$2] " " $7; size = $8
                by[$1, $2] = $4
                if ($1 > rounds) rounds = $1
                if (!($2 in o)) { o[$2] = ++n; names[n] = $2 }
            }
            END {
                print "| variant | runs | submit to done s | job started to done s | chunks | MB of the source read by chunk workers |"
                print "|---|---|---|---|---|---|"
                for (i = 1; i <= n; i++) {
                    v = names[i]
                    printf "| %s | %d | %.1f | %.1f | %d | %s |\n", v, split(total[v], t, " "), median(total[v]), median(injob[v]), chunks[v], chunks[v] ? sprintf("%.0f of %.0f", median(mb[v]), size / 1e6) : "-"
                }
                sp = ""; fixed = ""
                for (r = 1; r <= rounds; r++) {
                    if (by[r, "chunked_2workers"] > 0 && by[r, "chunked_1worker"] > 0) sp = sp " " by[r, "chunked_1worker"] / by[r, "chunked_2workers"]
                    if (by[r, "whole_1worker"] > 0 && by[r, "chunked_1worker"] > 0 && chunks["chunked_1worker"] > 0)
                        fixed = fixed " " (by[r, "chunked_1worker"] - by[r, "whole_1worker"]) / chunks["chunked_1worker"]
                }
                print ""
                if (sp != "") printf "speed-up, two workers against one (chunked, paired within a round): median %.2fx (target >= 1.6)\n", median(sp)
                if (fixed != "") printf "fixed cost of a chunk on one worker ((chunked - whole) / chunks): median %.2f s\n", median(fixed)
            }
        ' "$FARM"
    fi
    if [ -s "$MICRO" ]; then
        echo
        echo "Criterion benches (median of each run's median; throughput from it):"
        echo
        awk -F'\t' '
            function median(list,   a, n, i, j, t) {
                n = split(list, a, " ")
                for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
                return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
            }
            NR == 1 { next }
            {
                ns[$2] = ns[$2] " " $3; unit[$2] = $4; per[$2] = $5; byrun[$1, $2] = $3
                if (!($2 in o)) { o[$2] = ++n; names[n] = $2 }
                if ($1 > runs) runs = $1
            }
            END {
                print "| benchmark | runs | median time | throughput |"
                print "|---|---|---|---|"
                for (i = 1; i <= n; i++) {
                    b = names[i]; m = median(ns[b])
                    t = m >= 1e6 ? sprintf("%.2f ms", m / 1e6) : sprintf("%.1f us", m / 1e3)
                    if (unit[b] == "Bytes") tp = sprintf("%.0f MB/s", per[b] / (m / 1e9) / 1e6)
                    else if (unit[b] == "Elements") tp = sprintf("%.2f M segments/s", per[b] / (m / 1e9) / 1e6)
                    else tp = "-"
                    printf "| %s | %d | %s | %s |\n", b, split(ns[b], tmp, " "), t, tp
                }
                list = ""; list2 = ""
                for (r = 1; r <= runs; r++) {
                    if ((r, "sha256_4MiB/sha256_digest_of") in byrun && byrun[r, "sha256_4MiB/sha2_digest"] > 0)
                        list = list " " byrun[r, "sha256_4MiB/sha256_digest_of"] / byrun[r, "sha256_4MiB/sha2_digest"]
                    if ((r, "sha256_4MiB/appsink_gather_copy_hash") in byrun && byrun[r, "sha256_4MiB/sha2_digest"] > 0)
                        list2 = list2 " " byrun[r, "sha256_4MiB/appsink_gather_copy_hash"] / byrun[r, "sha256_4MiB/sha2_digest"]
                }
                if (list != "") printf "\ntime ratio Sha256Digest::of / sha2 digest (same run): median %.3f\n", median(list)
                if (list2 != "") printf "time ratio appsink gather+copy+hash / sha2 digest (same run): median %.3f\n", median(list2)
            }
        ' "$MICRO"
        if [ -s "$RESULTS/criterion-sizes.txt" ]; then
            echo
            cat "$RESULTS/criterion-sizes.txt"
        fi
    fi
    if [ -s "$RESULTS/x264-settings.txt" ]; then
        echo
        echo "x264 settings as written in each 1080p stream's SEI:"
        echo
        echo '```'
        cat "$RESULTS/x264-settings.txt"
        echo '```'
    fi
}

# ---- part 8: AV1 against ffmpeg + libsvtav1 and against libaom -----------------------------
# Interleaved rounds, on the same 720p source ($AV1_SECONDS s of the 1080p one, scaled once):
#   vodpipe_svt_720p   one AV1 720p rung (SVT-AV1, preset $AV1_PRESET, deterministic = false)
#   ffmpeg_svt_720p    ffmpeg -c:v libsvtav1 at the same preset, bitrate and GOP
#   vodpipe_aom_720p   the same rung with encoder = "aom" (libaom, cpu-used $AV1_PRESET)
#   vodpipe_svt_720p_slow  the SVT-AV1 rung at preset $AV1_SLOW_PRESET: SVT at libaom's quality
#   vodpipe_av1_ladder ladders/av1.toml with deterministic = false (1080p/720p/360p rungs, the
#                      720p source's 1080p rung skipped: 720p and 360p)
#   ffmpeg_av1_ladder  ffmpeg: one decode, split, scale, libsvtav1 per rung, same settings
# Wall time from GNU time; SSIM of each 720p output against the source (ffmpeg's ssim) and
# its video bitrate (packet bytes x 8 / the source's length).
AV1_SECONDS="${BENCH_AV1_SECONDS:-20}"
AV1_PRESET="${BENCH_AV1_PRESET:-8}"
AV1_SLOW_PRESET="${BENCH_AV1_SLOW_PRESET:-5}"
if have_part 8; then
    AV1_SRC="$MEDIA/src-720p30-${AV1_SECONDS}s.mp4"
    if [ ! -s "$AV1_SRC" ]; then
        ffmpeg -nostdin -hide_banner -loglevel error -y -i "$(source_of "$AV1_SECONDS")" -vf scale=1280:720 \
            -c:v libx264 -preset veryfast -crf 18 -g 60 -c:a copy "$AV1_SRC.part.mp4"
        mv "$AV1_SRC.part.mp4" "$AV1_SRC"
    fi
    gop=$((SEGMENT * FPS))
    av1_ladder() { # FILE ENCODER PRESET RUNGS...: each rung "HEIGHT KBPS"
        local file="$1" encoder="$2" preset="$3" rung h kbps
        shift 3
        { echo "name = \"bench-av1\""; echo "segment_duration = $SEGMENT.0"; echo "deterministic = false"
          for rung in "$@"; do
              read -r h kbps <<<"$rung"
              printf '\n[[rung]]\ncodec = "av1"\nencoder = "%s"\nheight = %s\nbitrate = %s\npreset = "%s"\n' "$encoder" "$h" $((kbps * 1000)) "$preset"
          done; } > "$file"
    }
    av1_ladder "$MEDIA/av1-svt-720p.toml" svt-av1 "$AV1_PRESET" "720 1500"
    av1_ladder "$MEDIA/av1-svt-720p-slow.toml" svt-av1 "$AV1_SLOW_PRESET" "720 1500"
    av1_ladder "$MEDIA/av1-aom-720p.toml" aom "$AV1_PRESET" "720 1500"
    av1_ladder "$MEDIA/av1-ladder.toml" svt-av1 "$AV1_PRESET" "720 1500" "360 400"
    cmd_ffmpeg_av1() { # OUT RUNGS...: each rung "HEIGHT KBPS"
        local out="$1" n=0 rung h kbps split="" maps=()
        shift
        for rung in "$@"; do split="$split[s$n]"; n=$((n + 1)); done
        local graph="[0:v]split=$n$split" i=0
        for rung in "$@"; do
            read -r h kbps <<<"$rung"
            graph="$graph;[s$i]scale=-2:$h[v$i]"
            maps+=(-map "[v$i]" -c:v libsvtav1 -preset "$AV1_PRESET" -b:v "${kbps}k" -g "$gop" -svtav1-params "scd=0" -map 0:a -c:a aac -b:a 128k "$out/av1_${h}p.mp4")
            i=$((i + 1))
        done
        CMD=(ffmpeg -nostdin -hide_banner -loglevel error -y -i "$AV1_SRC" -filter_complex "$graph" "${maps[@]}")
    }
    av1_ssim() { # VARIANT FILE
        local log="$RESULTS/logs/ssim-$1.log" ssim kbps
        ffmpeg -nostdin -hide_banner -i "$2" -i "$AV1_SRC" -lavfi "[0:v]setpts=PTS-STARTPTS[a];[1:v]setpts=PTS-STARTPTS[b];[a][b]ssim" -an -f null - > "$log" 2>&1 || true
        ssim="$(grep -o 'SSIM .*All:[0-9.]*' "$log" | sed 's/.*All://' | tail -n1)"
        kbps="$(ffprobe -v error -select_streams v:0 -show_entries packet=size -of csv=p=0 "$2" | awk -v s="$AV1_SECONDS" '{ b += $1 } END { printf "%.0f", b * 8 / s / 1000 }')"
        printf '%s\t%s\t%s\n' "$1" "${ssim:-?}" "${kbps:-?}" >> "$RESULTS/av1-ssim.tsv"
    }
    variants=(vodpipe_svt_720p ffmpeg_svt_720p vodpipe_aom_720p vodpipe_svt_720p_slow vodpipe_av1_ladder ffmpeg_av1_ladder)
    n=${#variants[@]}
    for round in $(seq 1 "$RUNS"); do
        for k in $(seq 0 $((n - 1))); do
            variant="${variants[$(((k + round - 1) % n))]}"
            out="$RESULTS/out/$variant-$round"
            rm -rf "$out"; mkdir -p "$out" "$RESULTS/logs"
            case "$variant" in
                vodpipe_svt_720p) cmd_vodpipe "$AV1_SRC" "$out" "$MEDIA/av1-svt-720p.toml" ;;
                vodpipe_aom_720p) cmd_vodpipe "$AV1_SRC" "$out" "$MEDIA/av1-aom-720p.toml" ;;
                vodpipe_svt_720p_slow) cmd_vodpipe "$AV1_SRC" "$out" "$MEDIA/av1-svt-720p-slow.toml" ;;
                vodpipe_av1_ladder) cmd_vodpipe "$AV1_SRC" "$out" "$MEDIA/av1-ladder.toml" ;;
                ffmpeg_svt_720p) cmd_ffmpeg_av1 "$out" "720 1500" ;;
                ffmpeg_av1_ladder) cmd_ffmpeg_av1 "$out" "720 1500" "360 400" ;;
            esac
            if timed 8 "$round" "$variant" "$RESULTS/logs/$variant-$round.log" -- "${CMD[@]}" && [ "$round" = 1 ]; then
                if [ -f "$out/av1_720p.mp4" ]; then
                    av1_ssim "$variant" "$out/av1_720p.mp4"
                elif [ -f "$out/t/av1_720p/playlist.m3u8" ]; then
                    joined="$out/av1_720p-joined.mp4"
                    cat "$out/t/av1_720p"/init*.mp4 $(awk -v dir="$out/t/av1_720p" '/^[^#]/ && NF { print dir "/" $0 }' "$out/t/av1_720p/playlist.m3u8") > "$joined"
                    av1_ssim "$variant" "$joined"
                fi
            fi
            finish_output "$out"
        done
    done
fi

# Part 8's table: median wall and CPU time per variant, the ratio to ffmpeg's within each
# round (median), and SSIM of the 720p output (round 1).
av1_summary() {
    [ -s "$RAW" ] && grep -q '^8	' "$RAW" || return 0
    echo
    echo "## AV1 (part 8): ${AV1_SECONDS} s of 720p30, 1500 kb/s, preset $AV1_PRESET (slow: $AV1_SLOW_PRESET), $RUNS rounds"
    echo
    awk -F'\t' -v ssimfile="$RESULTS/av1-ssim.tsv" '
        function median(list,   a, n, i, j, t) {
            n = split(list, a, " ")
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        BEGIN { while ((getline line < ssimfile) > 0) { split(line, f, "\t"); ssim[f[1]] = f[2]; kbps[f[1]] = f[3] } }
        $1 == 8 && $9 == 0 {
            wall[$3] = wall[$3] " " $4; cpu[$3] = cpu[$3] " " ($5 + $6); at[$2, $3] = $4
            if (!($3 in seen)) { seen[$3] = 1; order[++n] = $3 }
            if ($2 > rounds) rounds = $2
        }
        END {
            print "| variant | median wall s | median CPU s | wall vs ffmpeg (same round, median) | SSIM 720p | 720p video kb/s |"
            print "|---|---|---|---|---|---|"
            for (i = 1; i <= n; i++) {
                v = order[i]; peer = (v ~ /ladder/) ? "ffmpeg_av1_ladder" : "ffmpeg_svt_720p"; r = ""
                for (k = 1; k <= rounds; k++) if (((k, v) in at) && ((k, peer) in at) && at[k, peer] > 0) r = r " " at[k, v] / at[k, peer]
                printf "| %s | %.1f | %.1f | %s | %s | %s |\n", v, median(wall[v]), median(cpu[v]), r == "" ? "-" : sprintf("%.2fx", median(r)), (v in ssim) ? ssim[v] : "-", (v in kbps) ? kbps[v] : "-"
            }
        }' "$RAW"
}

summary | tee "$RESULTS/summary.md"
av1_summary | tee -a "$RESULTS/summary.md"
