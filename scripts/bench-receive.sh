#!/usr/bin/env bash
# bench-receive.sh - the 'bars' measurement of issue 13: `iroh receive` of one file on
# loopback, whole command against the transfer rate its progress line reports.
#
#   scripts/bench-receive.sh [--size BYTES] [--runs N] [--bin PATH]
#
# Each run, in a loopback-only network namespace (unshare -n): `iroh send --offline FILE`
# serves a random file in place; `iroh receive --offline` fetches it into a fresh directory.
# Prints per run: wall time of the receive command, its whole-command rate (size / wall),
# the rate of its progress line (bytes fetched / transfer time, which the summary repeats),
# and their ratio. Compare with ../shared/interop/bench-rust-blobs.sh --size BYTES run in
# the same session (its fetch_s / mib_per_s).
set -euo pipefail
size=300000000 runs=3 bin=
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    *) echo "usage: $0 [--size BYTES] [--runs N] [--bin PATH]" >&2; exit 2 ;;
  esac
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
if [ -z "$bin" ]; then
  bin=$dir/iroh
  CGO_ENABLED=0 go build -o "$bin" ./cmd/iroh
fi
head -c "$size" /dev/urandom > "$dir/payload"
export IROH="$bin" DIR="$dir" SIZE="$size" RUNS="$runs"
unshare -n bash -ec '
ip link set lo up
"$IROH" send --offline --bind6 "" "$DIR/payload" 2> "$DIR/send.err" &
send=$!
for i in $(seq 100); do tk=$(grep -m1 ^blob "$DIR/send.err" || true); [ -n "$tk" ] && break; sleep 0.1; done
[ -n "$tk" ] || { cat "$DIR/send.err" >&2; exit 1; }
for r in $(seq "$RUNS"); do
  out="$DIR/out$r"; mkdir "$out"
  t0=$(date +%s%N)
  "$IROH" receive --offline --bind6 "" --out "$out" "$tk" 2> "$DIR/recv$r.err"
  t1=$(date +%s%N)
  cmp -s "$DIR/payload" "$out/payload" || { echo "run $r: received file differs" >&2; exit 1; }
  wall_ms=$(( (t1 - t0) / 1000000 ))
  line=$(tr "\r" "\n" < "$DIR/recv$r.err" | grep "^received")
  bar=$(tr "\r" "\n" < "$DIR/recv$r.err" | grep "^receiving" | tail -1)
  echo "run $r: wall ${wall_ms} ms, whole command $(awk -v s="$SIZE" -v ms="$wall_ms" "BEGIN{printf \"%.1f\", s/1048576/(ms/1000)}") MiB/s"
  echo "  bar:     $bar"
  echo "  summary: $line"
  rm -rf "$out"
done
kill -INT $send; wait $send || true
'
