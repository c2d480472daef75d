#!/usr/bin/env bash
# bench-quic.sh - the same-run QUIC stream benchmark of issue 9 (item 6): our stack (`iroh bench quic`,
# through the root package's API), raw quic-go (bench/quicgo, a module of its own) and Rust iroh's QUIC
# (../shared/interop/bench-rust-quic.sh), each a sender and a receiver process on loopback, moving the
# same byte count; prints one table of MB/s and CPU-seconds per GiB (both processes) and the ratios.
#
#   scripts/bench-quic.sh [--bytes N] [--runs N] [--no-rust] [--out DIR]   (defaults: 1 GiB, 3 runs)
#
# --out DIR keeps every tool's output there (JSON lines: each run and the medians).
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
summary() { grep -m1 "^{\"$2\"" "$1" | jq -c ".$2"; }
load0=$(load)
run() { # name file cmd...: runs a benchmark, keeps its output, says what failed
  local name=$1 out=$2; shift 2
  echo "bench-quic: $name" >&2
  if ! "$@" >"$out"; then
    echo "bench-quic: $name failed" >&2
    return 1
  fi
}
fail=0
if [ -z "$note" ]; then
  IROH_SHARED=$BENCH_QUIC_SHARED run "rust iroh (bench-rust-quic.sh)" "$work/rust.out" \
    bash "$BENCH_QUIC_SHARED/interop/bench-rust-quic.sh" --bytes "$bytes" --runs "$runs" || { note="failed (see stderr)"; fail=1; }
fi
for s in 1 4; do
  run "iroh bench quic, $s stream(s)" "$work/ours-$s.out" "$work/iroh" bench quic --bytes "$bytes" --streams "$s" --runs "$runs" --json || fail=1
  run "quic-go, $s stream(s)" "$work/quicgo-$s.out" "$work/quicgo" --bytes "$bytes" --streams "$s" --runs "$runs" --json || fail=1
done
load1=$(load)

gib=$(awk -v b="$bytes" 'BEGIN { printf "%.6f", b / 1073741824 }')
row() { # label streams json(MBps, cpu_s_per_GiB, sender_cpu_s, receiver_cpu_s, and the ranges) | empty
  if [ -z "$3" ]; then printf '%-42s %7s %19s %19s %9s %9s %10s\n' "$1" "$2" "-" "-" "-" "-" "-"; return; fi
  jq -r --arg l "$1" --arg s "$2" '[$l, $s, .MBps, .mbps_min, .mbps_max, .cpu_s_per_GiB, .cpu_min, .cpu_max, .sender_cpu_s, .receiver_cpu_s, .connect_ms] | @tsv' <<<"$3" |
    awk -F'\t' '{ printf "%-42s %7s %19s %19s %9.2f %9.2f %10.1f\n", $1, $2, sprintf("%.1f (%.0f-%.0f)", $3, $4, $5), sprintf("%.2f (%.2f-%.2f)", $6, $7, $8), $9, $10, $11 }'
}
with_ranges() { # summary-json: adds the runs' lowest and highest MB/s and CPU-s/GiB (per-run objects on stdin)
  jq -s -c --argjson m "$1" '$m + {mbps_min: (map(.MBps) | min), mbps_max: (map(.MBps) | max), cpu_min: (map(.cpu_s_per_GiB) | min), cpu_max: (map(.cpu_s_per_GiB) | max)}'
}
go_result() { # file: the medians with the ranges, or nothing
  local m
  m=$(summary "$1" bench_quic 2>/dev/null) || return 0
  [ -n "$m" ] || return 0
  jq -c 'select(.bench_quic_run) | .bench_quic_run' "$1" | with_ranges "$m"
}
declare -A res
for s in 1 4; do
  res[ours-$s]=$(go_result "$work/ours-$s.out")
  res[quicgo-$s]=$(go_result "$work/quicgo-$s.out")
done
rustj=
if [ -z "$note" ] && [ -f "$work/rust.out" ]; then
  # The Rust summary in our keys: CPU of client (sender) and server (receiver) over their windows.
  rustj=$(summary "$work/rust.out" rust_quic | jq -c --argjson g "$gib" \
    '{MBps, sender_cpu_s: .client_cpu_s, receiver_cpu_s: .server_cpu_s, cpu_s_per_GiB: ((.client_cpu_s + .server_cpu_s) / $g), connect_ms, iroh}' || true)
  if [ -n "$rustj" ]; then
    rustj=$(jq -c --argjson g "$gib" 'select(.run) | {MBps, cpu_s_per_GiB: ((.client_cpu_s + .server_cpu_s) / $g)}' "$work/rust.out" | with_ranges "$rustj")
  else
    note="no rust_quic summary line"
  fi
fi

echo
echo "QUIC streams on loopback, two processes each: $bytes bytes per run, medians of $runs runs (lowest-highest run)"
echo "MB/s = 10^6 bytes/s; CPU-s/GiB = user+sys of sender and receiver over the transfer, per GiB moved;"
echo "sender_s, recv_s = those CPU seconds per run; connect_ms = the sender's connect call (handshake)"
echo "load average before $load0, after $load1 (2 cores shared with other work: the figures are noisy)"
echo
printf '%-42s %7s %19s %19s %9s %9s %10s\n' "implementation" streams "MB/s" "CPU-s/GiB" "sender_s" "recv_s" "connect_ms"
row "iroh-go (iroh bench quic)" 1 "${res[ours-1]}"
row "iroh-go (iroh bench quic)" 4 "${res[ours-4]}"
row "quic-go $(sed -n 's/^require github.com\/quic-go\/quic-go //p' bench/quicgo/go.mod) (bench/quicgo)" 1 "${res[quicgo-1]}"
row "quic-go (bench/quicgo)" 4 "${res[quicgo-4]}"
if [ -n "$rustj" ]; then
  row "rust iroh $(jq -r .iroh <<<"$rustj") (quinn, bench-rust-quic)" 1 "$rustj"
  echo "rust iroh: one uni stream only (bench-rust-quic.sh has no --streams)"
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
