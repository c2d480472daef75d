package iroh

import "time"

// SetAcceptTimeoutForTest shortens the time an incoming connection waits
// for Accept; the returned function restores it.
func SetAcceptTimeoutForTest(d time.Duration) func() {
	old := acceptTimeout
	acceptTimeout = d
	return func() { acceptTimeout = old }
}
