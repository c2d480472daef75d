package tls13

import (
	"testing"

	"go.uber.org/goleak"
)

// The package starts no goroutines; the interop test's reader of the Rust
// peer's output must be gone when it ends.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
