#!/usr/bin/env bash
# bench-quic.sh - the same-run QUIC stream benchmark of issue 9 (item 6): our stack (`iroh bench quic`,
# through the root package's API), raw quic-go (bench/quicgo, a module of its own) and Rust iroh's QUIC
# (../shared/interop/bench-rust-quic.sh), each a sender and a receiver process on loopback, moving the
# same byte count; prints one table of MB/s and CPU-seconds per GiB (both processes) and the ratios.
#
#   scripts/bench-quic.sh [--bytes N] [--runs N] [--no-rust] [--out DIR]   (defaults: 1 GiB, 3 runs)
#
# --out DIR keeps every tool's output there (JSON lines: each run and the medians). The runs go
# round-robin (one of each implementation, then the next round); the table shows medians and ranges.
# Ours and quic-go run with 1 and 4 streams; bench-rust-quic.sh moves one stream only (it has no
# --streams), so its row is "1 stream" and the 4-stream ratios against Rust are marked. Rust runs when
# the shared folder (IROH_SHARED, else ../shared beside the repository) has interop/, node is there and
# the machine is x86_64. As root the whole script runs itself again in a loopback-only network
# namespace (unshare -n, lo up), as Rust must; otherwise ours and quic-go bind 127.0.0.1 on the host
# and bench-rust-quic.sh makes its own namespace (unshare -r -n). Needs go, jq, awk.
set -euo pipefail
caller=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
usage() { sed -n '7p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
bytes=1073741824 runs=3 rust=1 out=
while [ $# -gt 0 ]; do
  case "$1" in
    --bytes) bytes=${2:-}; shift 2 || usage ;;
    --runs) runs=${2:-}; shift 2 || usage ;;
    --no-rust) rust=0; shift ;;
    --out) out=${2:-}; shift 2 || usage; [ -n "$out" ] || usage; case "$out" in /*) ;; *) out=$caller/$out ;; esac ;;
    *) usage ;;
  esac
done
for v in "$bytes" "$runs"; do
  case "$v" in ''|*[!0-9]*|0) echo "bench-quic: not a positive number: $v" >&2; exit 2 ;; esac
done
[ "$bytes" -ge 4 ] || { echo "bench-quic: --bytes must be at least 4 (one byte per stream)" >&2; exit 2; }
command -v jq >/dev/null || { echo "bench-quic: jq not found" >&2; exit 2; }

if [ -z "${BENCH_QUIC_WORK:-}" ]; then
  # Outer run: build, prepare Rust (the npm install needs the network), then measure, in a
  # loopback-only namespace when root.
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "bench-quic: building iroh and bench/quicgo" >&2
  CGO_ENABLED=0 go build -o "$work/iroh" ./cmd/iroh
  (cd bench/quicgo && CGO_ENABLED=0 go build -o "$work/quicgo" .)
  shared=${IROH_SHARED:-../shared}
  note=
  if [ "$rust" = 0 ]; then
    note="not run (--no-rust)"
  elif [ ! -x "$shared/interop/bench-rust-quic.sh" ]; then
    note="not run: no $shared/interop/bench-rust-quic.sh (set IROH_SHARED)"
  elif ! command -v node >/dev/null; then
    note="not run: node not found"
  elif [ "$(uname -m)" != x86_64 ]; then
    note="not run: the Rust bindings are prebuilt for x86_64 only"
  elif ! bash "$shared/interop/install.sh"; then
    note="not run: interop/install.sh failed"
  fi
  export BENCH_QUIC_WORK=$work BENCH_QUIC_RUST_NOTE=$note BENCH_QUIC_SHARED=$shared
  args=(--bytes "$bytes" --runs "$runs")
  [ "$rust" = 1 ] || args+=(--no-rust)
  status=0
  if [ "$(id -u)" = 0 ] && unshare -n -- true 2>/dev/null; then
    # shellcheck disable=SC2016 # $0 and $@ expand in the inner bash
    unshare -n -- bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "${args[@]}" || status=$?
  else
    echo "bench-quic: no network namespace (not root, or unshare -n refused): ours and quic-go run on the host's 127.0.0.1" >&2
    bash "$0" "${args[@]}" || status=$?
  fi
  if [ -n "$out" ]; then
    mkdir -p "$out" && cp "$work"/*.out "$out"/ 2>/dev/null && echo "bench-quic: outputs in $out" >&2
  fi
  exit $status
fi

# Inner run: measure and print the table.
work=$BENCH_QUIC_WORK
note=${BENCH_QUIC_RUST_NOTE:-}
load() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }
load0=$(load)
run() { # name file cmd...: runs a benchmark, appends its output, says what failed
  local name=$1 out=$2; shift 2
  echo "bench-quic: $name" >&2
  if ! "$@" >>"$out"; then
    echo "bench-quic: $name failed" >&2
    return 1
  fi
}
# Round-robin, one run of each at a time, so that a change in the machine's load hits every
# implementation alike rather than the one that happens to run then.
fail=0
for r in $(seq "$runs"); do
  if [ -z "$note" ]; then
    IROH_SHARED=$BENCH_QUIC_SHARED run "run $r: rust iroh (bench-rust-quic.sh)" "$work/rust.out" \
      bash "$BENCH_QUIC_SHARED/interop/bench-rust-quic.sh" --bytes "$bytes" --runs 1 || { note="failed (see stderr)"; fail=1; }
  fi
  for s in 1 4; do
    run "run $r: iroh bench quic, $s stream(s)" "$work/ours-$s.out" "$work/iroh" bench quic --bytes "$bytes" --streams "$s" --runs 1 --json || fail=1
    run "run $r: quic-go, $s stream(s)" "$work/quicgo-$s.out" "$work/quicgo" --bytes "$bytes" --streams "$s" --runs 1 --json || fail=1
  done
done
load1=$(load)

gib=$(awk -v b="$bytes" 'BEGIN { printf "%.6f", b / 1073741824 }')
row() { # label streams stats-json | empty
  if [ -z "$3" ]; then printf '%-42s %7s %19s %19s %9s %9s %10s %8s\n' "$1" "$2" "-" "-" "-" "-" "-" "-"; return; fi
  jq -r --arg l "$1" --arg s "$2" '[$l, $s, .MBps, .mbps_min, .mbps_max, .cpu_s_per_GiB, .cpu_min, .cpu_max, .sender_cpu_s, .receiver_cpu_s, .connect_ms,
      (.echo_ms // "-")] | @tsv' <<<"$3" |
    awk -F'\t' '{ printf "%-42s %7s %19s %19s %9.2f %9.2f %10.1f %8s\n", $1, $2, sprintf("%.1f (%.0f-%.0f)", $3, $4, $5), sprintf("%.2f (%.2f-%.2f)", $6, $7, $8), $9, $10, $11, ($12 == "-" ? "-" : sprintf("%.1f", $12)) }'
}
stats() { # per-run objects in our keys on stdin -> medians, lowest and highest, runs; nothing if none
  jq -s -c 'def med(f): (map(f) | sort) as $s | ($s | length) as $n |
      if $n % 2 == 1 then $s[($n - 1) / 2] else ($s[$n / 2 - 1] + $s[$n / 2]) / 2 end;
    if length == 0 then empty else
      {runs: length, MBps: med(.MBps), cpu_s_per_GiB: med(.cpu_s_per_GiB), sender_cpu_s: med(.sender_cpu_s),
       receiver_cpu_s: med(.receiver_cpu_s), connect_ms: med(.connect_ms),
       echo_ms: (if all(has("echo_ms")) then med(.echo_ms) else null end),
       mbps_min: (map(.MBps) | min), mbps_max: (map(.MBps) | max),
       cpu_min: (map(.cpu_s_per_GiB) | min), cpu_max: (map(.cpu_s_per_GiB) | max)} end'
}
go_result() { # file of iroh bench quic or quicgo --json output
  [ -f "$1" ] || return 0
  jq -c 'select(.bench_quic_run) | .bench_quic_run | select(.received == .bytes)' "$1" | stats
}
declare -A res
for s in 1 4; do
  res[ours-$s]=$(go_result "$work/ours-$s.out")
  res[quicgo-$s]=$(go_result "$work/quicgo-$s.out")
done
rustj='' rustv=''
if [ -f "$work/rust.out" ]; then
  # Rust's runs in our keys: CPU of client (sender) and server (receiver) over their windows.
  rustj=$(jq -c --argjson g "$gib" 'select(.run) | {MBps, sender_cpu_s: .client_cpu_s, receiver_cpu_s: .server_cpu_s,
    cpu_s_per_GiB: ((.client_cpu_s + .server_cpu_s) / $g), connect_ms}' "$work/rust.out" | stats)
  rustv=$(grep -m1 '^{"rust_quic"' "$work/rust.out" | jq -r '.rust_quic.iroh' || true)
  [ -n "$rustj" ] || note=${note:-"no run lines in its output"}
fi

echo
echo "QUIC streams on loopback, two processes each: $bytes bytes per run, medians of $runs runs (lowest-highest),"
echo "taken round-robin: one run of each implementation, then the next round"
echo "MB/s = 10^6 bytes/s; CPU-s/GiB = user+sys of sender and receiver over the transfer, per GiB moved;"
echo "sender_s, recv_s = those CPU seconds per run; connect_ms = the sender's first, cold connect (handshake);"
echo "echo_ms = that connect plus one byte echoed on a stream (bench-rust-quic.sh does not measure it)"
echo "load average before $load0, after $load1 (2 cores shared with other work: the figures are noisy)"
echo
printf '%-42s %7s %19s %19s %9s %9s %10s %8s\n' "implementation" streams "MB/s" "CPU-s/GiB" "sender_s" "recv_s" "connect_ms" "echo_ms"
row "iroh-go (iroh bench quic)" 1 "${res[ours-1]}"
row "iroh-go (iroh bench quic)" 4 "${res[ours-4]}"
row "quic-go $(sed -n 's/^require github.com\/quic-go\/quic-go //p' bench/quicgo/go.mod) (bench/quicgo)" 1 "${res[quicgo-1]}"
row "quic-go (bench/quicgo)" 4 "${res[quicgo-4]}"
if [ -n "$rustj" ]; then
  row "rust iroh ${rustv:-?} (quinn, bench-rust-quic)" 1 "$rustj"
  echo "rust iroh: one uni stream only (bench-rust-quic.sh has no --streams)${note:+; $note}"
else
  echo "rust iroh: $note"
fi
echo
echo "ratios, ours / other (MB/s: higher is better; CPU-s/GiB: lower is better)"
printf '%-8s %14s %14s %14s %14s\n' streams "MB/s vs Rust" "CPU vs Rust" "MB/s vs q-go" "CPU vs q-go"
ratio() { # a b key
  if [ -z "$1" ] || [ -z "$2" ]; then echo "-"; return; fi
  jq -rn --argjson a "$1" --argjson b "$2" --arg k "$3" '$a[$k] / $b[$k]' | awk '{ printf "%.2f", $1 }'
}
for s in 1 4; do
  o=${res[ours-$s]} q=${res[quicgo-$s]}
  mr=$(ratio "$o" "$rustj" MBps) cr=$(ratio "$o" "$rustj" cpu_s_per_GiB)
  if [ "$s" != 1 ] && [ "$mr" != - ]; then mr="$mr*" cr="$cr*"; fi
  printf '%-8s %14s %14s %14s %14s\n' "$s" "$mr" "$cr" "$(ratio "$o" "$q" MBps)" "$(ratio "$o" "$q" cpu_s_per_GiB)"
done
[ -z "$rustj" ] || echo "* against Rust's single stream"
exit $fail
