#!/usr/bin/env bash
# The whole test suite, from a fresh clone on Debian 12 (this is what .ci/run runs):
#   1. scripts/setup.sh        installs missing system packages (a no-op when present)
#   2. fixtures/make-*.sh      makes the test media and the field corpus (kept between runs)
#   3. cargo test --workspace  unit, golden and end-to-end tests (release: see below)
#   4. extra checks            hooks for checks that are not cargo tests
# Every part runs even if an earlier test part failed, so one run shows every failure;
# the exit status is non-zero if anything failed. The last line is a plain
# "N passed, N failed" total over cargo's test results and the extra checks.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Release, not debug. Measured from a clean target on the 2-core machine (CPU time, as
# the wall clock there depends on what else is building): `cargo test --workspace
# --no-run` took 13.6 CPU-min in debug, even with the workspace's dev opt-level=2 for
# dependencies, against 8.4 in release, because debug also carries full debuginfo
# through every dependency and every test binary's link. Running the suite took the same
# either way (~30 s: GStreamer's C code does the work, optimised in both). Release also
# shares its artefacts with `cargo build --release -p worker` (scripts/demo.sh).
PROFILE_FLAG=(--release)

log_dir="$(mktemp -d "${TMPDIR:-/tmp}/vodpipe-test.XXXXXX")"
# The tests start SeaweedFS from this checkout's .tools (scripts/services.sh); it is stopped
# at the end, or it would hold 127.0.0.1:8333 against the next clone's run. services.sh
# stops only what this checkout started (a RabbitMQ it did not start is left running).
trap 'bash scripts/services.sh stop >/dev/null 2>&1 || true; rm -rf "$log_dir"' EXIT

failures=()
passed=0
failed=0
ignored=0
timings=()

step() { printf '\n==> %s\n' "$*"; }
elapsed() { echo $(($(date +%s) - $1)); }

t0=$(date +%s)
step "Installing missing system packages (scripts/setup.sh)"
bash scripts/setup.sh
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    # rustup, when setup.sh just ran it, only changes PATH for shells started afterwards.
    export PATH="$HOME/.cargo/bin:$PATH"
fi
timings+=("setup: $(elapsed "$t0") s")

# The official DASH schema the MPD checks validate against comes with ../shared, beside the
# repository (it is not ours to commit, and these machines cannot fetch it from GitHub).
schema="$root/../shared/conformance/dash-schema/DASH-MPD.xsd"
if [ ! -f "$schema" ] && [ "${VODPIPE_NO_SHARED:-}" != "1" ]; then
    echo "test.sh: needs the official DASH schema at $schema (MPEGGroup/DASHSchema, with its catalog.xml and w3c/ schemas, as ../shared provides); VODPIPE_NO_SHARED=1 runs everything else and says the schema checks did not run" >&2
    exit 2
fi

t0=$(date +%s)
step "Making test media (fixtures/make-media.sh, fixtures/make-field-media.sh)"
bash fixtures/make-media.sh
bash fixtures/make-field-media.sh
timings+=("fixtures: $(elapsed "$t0") s")

# --- Services hook ---------------------------------------------------------------------
# Tests that need a running service must not be skipped. RabbitMQ and the S3-compatible
# server are started by the tests themselves through scripts/services.sh (idempotent), so
# nothing is started here; a service that a test cannot start itself belongs here,
# before cargo test, with its stop in the EXIT trap.
# ----------------------------------------------------------------------------------------

t0=$(date +%s)
step "Building tests (cargo test --workspace ${PROFILE_FLAG[*]} --no-run)"
# Built separately so that the timings below tell compile time from run time.
if ! cargo test --workspace "${PROFILE_FLAG[@]}" --no-run; then
    failures+=("cargo test build")
fi
timings+=("cargo build (tests): $(elapsed "$t0") s")

t0=$(date +%s)
step "Running tests (cargo test --workspace ${PROFILE_FLAG[*]})"
# --no-fail-fast: a failing crate must not hide the results of the others.
if ! cargo test --workspace "${PROFILE_FLAG[@]}" --no-fail-fast 2>&1 | tee "$log_dir/cargo-test.log"; then
    failures+=("cargo test")
fi
timings+=("cargo test (run): $(elapsed "$t0") s")

# Sum cargo's "test result: ok. 3 passed; 0 failed; 1 ignored; ..." lines.
while read -r p f i; do
    passed=$((passed + p))
    failed=$((failed + f))
    ignored=$((ignored + i))
done < <(sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored;.*/\1 \2 \3/p' \
    "$log_dir/cargo-test.log")
if [ "${#failures[@]}" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # cargo failed without a failing test line (a build error, a crashed test binary):
    # count it, so the closing line never reads "0 failed" for a failed run.
    failed=1
fi

# --- Extra checks hook -----------------------------------------------------------------
# Checks that are part of the suite but not cargo tests. A check that ends with its own
# "N passed, N failed" line adds those counts to the total; any other counts as one
# test, by its exit status. Add new ones with `extra_check NAME COMMAND...`.
extra_check() {
    local name="$1"
    shift
    local t log status=0
    t=$(date +%s)
    log="$log_dir/extra-$(echo "$name" | tr -c 'a-zA-Z0-9' '_').log"
    step "Extra check: $name"
    "$@" 2>&1 | tee "$log" || status=$?
    local counts
    counts="$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1 \2/p' "$log" | tail -n1)"
    if [ -n "$counts" ]; then
        passed=$((passed + ${counts% *}))
        failed=$((failed + ${counts#* }))
    elif [ "$status" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
    if [ "$status" -ne 0 ]; then
        failures+=("$name")
        if [ -n "$counts" ] && [ "${counts#* }" -eq 0 ]; then
            failed=$((failed + 1)) # exited non-zero yet reported no failure: count one
        fi
    fi
    timings+=("$name: $(elapsed "$t") s")
}

# Debian's jsonschema (scripts/setup.sh) belongs to the system interpreter, which may not
# be the first python3 on PATH (pyenv, virtualenvs).
system_python=python3
if [ -x /usr/bin/python3 ]; then
    system_python=/usr/bin/python3
fi

# The catalog schema: the manifest crate's golden catalogs, and the schema's own
# rejections of broken documents.
if [ -f manifest/tests/schema_check.py ]; then
    extra_check "catalog schema (golden files)" "$system_python" manifest/tests/schema_check.py
    # And a catalog the real binary just wrote (cargo test built target/release/vodpipe).
    if [ -x target/release/vodpipe ]; then
        schema_out="$log_dir/schema-out"
        real_catalog() {
            target/release/vodpipe transcode fixtures/media/short.mp4 --out "$schema_out" &&
                "$system_python" manifest/tests/schema_check.py "$schema_out/short/catalog.json"
        }
        extra_check "catalog schema (real transcode)" real_catalog
    fi
fi
# ----------------------------------------------------------------------------------------

step "Timings"
printf '  %s\n' "${timings[@]}"

if [ "${#failures[@]}" -ne 0 ]; then
    step "FAILED: ${failures[*]}"
fi
# Plain closing line, read by CI: totals over every part above.
echo "tests: $passed passed, $failed failed, $ignored skipped"
if [ "${#failures[@]}" -ne 0 ]; then
    exit 1
fi
