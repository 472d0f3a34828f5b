#!/bin/sh
# `make bench`: throughput and latency of the hot routes of `kairos serve`
# against a bare libh2o server that returns a constant, in one run so the
# ratios compare like with like. Everything listens on 127.0.0.1 only and
# every process started here is stopped on exit.
#
# Settings, from the environment:
#   BENCH_DURATION     wrk -d, default 10s
#   BENCH_THREADS      wrk -t, default 2
#   BENCH_CONNECTIONS  wrk -c, default 32
#   BENCH_WORKERS      workers of each server, default nproc
#   BENCH_ROUTES       directory of GPX routes to seed, default ../shared/data/routes
#   BENCH_KAIROS       the binary to measure, default ./kairos built from this tree
#                      (another build, to compare it in the same conditions)
set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)
DURATION=${BENCH_DURATION:-10s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
WORKERS=${BENCH_WORKERS:-$(nproc)}
ROUTES=${BENCH_ROUTES:-$ROOT/../shared/data/routes}
KAIROS=${BENCH_KAIROS:-$ROOT/kairos}
CFLAGS=${CFLAGS:--O2 -g}

for tool in wrk curl perl pkg-config; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kairos-bench-XXXXXX")
KAIROS_PID=
BARE_PID=

stop_all() {
    for pid in $KAIROS_PID $BARE_PID; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $KAIROS_PID $BARE_PID; do
        wait "$pid" 2>/dev/null || true
    done
    KAIROS_PID=
    BARE_PID=
    rm -rf "$TMP"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

free_port() {
    perl -MIO::Socket::INET -e \
        'print IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport'
}

# Waits up to 15 s for a GET of $1 to return status 200.
wait_ready() {
    i=0
    while [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" || true)" != 200 ]; do
        i=$((i + 1))
        if [ $i -ge 300 ]; then
            echo "bench: GET $1 did not return 200 within 15 s; the end of the Kairos log:" >&2
            tail -n 20 "$TMP/server.log" >&2 || true
            exit 1
        fi
        sleep 0.05
    done
}

echo "bench: building" >&2
make -s kairos
# The same compiler flags as the Makefile uses for Kairos.
# shellcheck disable=SC2046,SC2086
cc $CFLAGS -std=gnu11 -Wall -Wextra -Werror -DH2O_USE_LIBUV=0 $(pkg-config --cflags libh2o-evloop) \
    -o "$TMP/bare_h2o" etc/bench/bare_h2o.c $(pkg-config --libs libh2o-evloop) -lssl -lcrypto

KAIROS_PORT=$(free_port)
mkdir "$TMP/var"
(
    cd "$TMP"
    exec env ENVIRONMENT=local KAIROS_STORAGE="$TMP/kairos.sqlite" KAIROS_LISTEN="127.0.0.1:$KAIROS_PORT" \
        KAIROS_WORKERS="$WORKERS" KAIROS_VAR_DIR="$TMP/var" KAIROS_LOG_FORMAT=text \
        "$KAIROS" serve 2>"$TMP/server.log" >&2
) &
KAIROS_PID=$!
BASE="http://127.0.0.1:$KAIROS_PORT"
wait_ready "$BASE/api/v1/"

echo "bench: seeding $BASE from $ROUTES" >&2
perl etc/bench/seed.pl "$BASE" "$ROUTES" >"$TMP/seed.out"
JOURNEY=$(sed -n 1p "$TMP/seed.out")
TOKEN=$(sed -n 2p "$TMP/seed.out")

BARE_PORT=$(free_port)
"$TMP/bare_h2o" "$BARE_PORT" "$WORKERS" &
BARE_PID=$!
wait_ready "http://127.0.0.1:$BARE_PORT/"

# CPU time (user and system, in clock ticks) used so far by the children of process $1: the server's workers.
children_cpu_ticks() {
    for child in $(pgrep -P "$1"); do
        cut -d' ' -f14,15 "/proc/$child/stat" 2>/dev/null || true
    done | awk '{ ticks += $1 + $2 } END { print ticks + 0 }'
}

# Runs wrk on $3 against the server whose master is $2 and appends
# "name requests rps p50 p99 non2xx errors cpu_us_per_request" to the results.
run_wrk() {
    name=$1
    server=$2
    url=$3
    echo "bench: $name: wrk -t$THREADS -c$CONNECTIONS -d$DURATION $url" >&2
    before=$(children_cpu_ticks "$server")
    line=$(BENCH_TOKEN=${4:-} wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s etc/bench/report.lua "$url" |
        sed -n 's/^BENCH //p')
    after=$(children_cpu_ticks "$server")
    [ -n "$line" ] || { echo "bench: wrk printed no result for $name" >&2; exit 1; }
    cpu_us=$(echo "$line $before $after $(getconf CLK_TCK)" |
        awk '{ printf "%.1f", ($8 - $7) * 1e6 / $9 / ($1 > 0 ? $1 : 1) }')
    echo "$name $line $cpu_us" >>"$TMP/results"
}

: >"$TMP/results"
run_wrk "bare-h2o" "$BARE_PID" "http://127.0.0.1:$BARE_PORT/"
run_wrk "ping" "$KAIROS_PID" "$BASE/api/v1/"
run_wrk "health" "$KAIROS_PID" "$BASE/api/v1/health"
run_wrk "journey" "$KAIROS_PID" "$BASE/api/v1/journeys/$JOURNEY" "$TOKEN"
run_wrk "markers" "$KAIROS_PID" "$BASE/api/v1/journeys/$JOURNEY/markers" "$TOKEN"
run_wrk "nearby" "$KAIROS_PID" "$BASE/api/v1/journeys/$JOURNEY/nearby?max_distance=500000" "$TOKEN"

echo
echo "$KAIROS: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1))," \
    "$WORKERS workers, wrk -t$THREADS -c$CONNECTIONS -d$DURATION on 127.0.0.1"
awk '
    NR == 1 { ceiling = $3 }
    NR == 1 {
        printf "%-9s %10s %9s %9s %8s %12s %9s\n", "target", "req/s", "p50 ms", "p99 ms", "ceiling", "CPU us/req",
            "errors"
    }
    { printf "%-9s %10d %9.2f %9.2f %7.0f%% %12.1f %9d\n", $1, $3, $4, $5, 100 * $3 / ceiling, $8, $6 + $7 }
' "$TMP/results"

# wrk counts a response outside 2xx and 3xx as an error: show which statuses they were.
if awk '$6 + $7 > 0 { found = 1 } END { exit !found }' "$TMP/results"; then
    echo "bench: some requests failed or were not 2xx/3xx; statuses in the access log:" >&2
    sed -n 's/.* access: .*" \([0-9][0-9]*\) [0-9][0-9]* .*/\1/p' "$TMP/server.log" | sort | uniq -c >&2
    grep -E ' (warn|error) ' "$TMP/server.log" | tail -n 5 >&2
fi
