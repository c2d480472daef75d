#!/usr/bin/env bash
# scripts/test.sh - installs what the tests need on a fresh machine (Debian packages as root, the npm
# packages of the Rust interop harness) and runs every check: gofmt, go vet, cross-builds for the five
# target systems, and all tests with the race detector (fuzz seed corpora run as ordinary tests).
#
#   IROH_SHARED   the team's shared folder (spec vectors, interop, netsim); default ../shared
#   TEST_FLAGS    extra flags for go test (e.g. -short, -run X)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export IROH_SHARED="${IROH_SHARED:-$(cd ../shared 2>/dev/null && pwd || true)}"

step() { printf '\n== %s\n' "$*"; }

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  command -v nft >/dev/null || need+=(nftables)
  command -v ip >/dev/null || need+=(iproute2)
  command -v unshare >/dev/null || need+=(util-linux)
  command -v strace >/dev/null || need+=(strace)   # cmd/iroh: the --offline loopback guard
  command -v node >/dev/null || need+=(nodejs npm)
  command -v chromium >/dev/null || need+=(chromium)           # gateway browser tests
  command -v chromedriver >/dev/null || need+=(chromium-driver)
  if [ ${#need[@]} -gt 0 ]; then
    step "installing ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi
if [ -n "$IROH_SHARED" ] && [ -x "$IROH_SHARED/interop/install.sh" ] && command -v node >/dev/null && [ "$(uname -m)" = x86_64 ]; then
  step "interop npm packages"
  bash "$IROH_SHARED/interop/install.sh"
fi

step "gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt needed:"; echo "$bad"; exit 1; fi

step "go vet"
go vet ./...

step "cross-builds"
for target in linux/amd64 linux/arm64 darwin/arm64 windows/amd64 android/arm64; do
  CGO_ENABLED=0 GOOS=${target%/*} GOARCH=${target#*/} go build ./... && echo "ok $target"
done
# iOS executables need cgo linking; the library packages must build.
CGO_ENABLED=0 GOOS=ios GOARCH=arm64 go build $(go list ./... | grep -v -e /cmd/ -e /examples/) && echo "ok ios/arm64 (library)"

step "go test -race"
# The whole output goes to a log as well; on failure its essentials (failed tests, panics, the tests a
# timeout caught running, the shuffle seeds) are printed again at the end, where a truncated view sees them.
log=$(mktemp -t iroh-test.XXXXXX)
rc=0
go test -race -shuffle=on -timeout 12m ${TEST_FLAGS:-} ./... 2>&1 | tee "$log" || rc=$?
if [ "$rc" != 0 ]; then
  step "failures (from $log)"
  grep -n -A8 -e '^--- FAIL' -e '^panic:' -e '^running tests:' -e 'DATA RACE' "$log" | head -150 || true
  grep -n -e '-test.shuffle' -e '^FAIL' "$log" || true
fi
exit "$rc"
