package protect

import (
	"testing"

	"go.uber.org/goleak"
)

// The interop tests start a goroutine reading the Rust peer's output.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
