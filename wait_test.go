package iroh_test

import (
	"sync"
	"testing"
	"time"
)

// waitFor returns the next value from ch, or fails the test within d,
// saying what did not happen. A test body waits with it rather than with a
// bare receive, so that a lost connection or a stuck goroutine fails fast
// instead of hanging the whole run.
func waitFor[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s: not within %v", what, d)
		panic("unreachable")
	}
}

// waitGroup waits for wg, or fails the test within d, saying what did not
// happen.
func waitGroup(t testing.TB, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	waitFor(t, done, d, what)
}

// streamTimeout bounds every stream a test body reads or writes. The
// largest transfers (16 MiB relay then direct, 24 MiB to Rust) take a few
// seconds here and would take about 50 s at the 0.5 MiB/s seen on a loaded
// CI machine, so it only ends a stream that stalled.
const streamTimeout = 90 * time.Second

// bound sets s's read and write deadline streamTimeout from now, so that a
// stalled stream ends a read in the test body with a timeout error rather
// than blocking it forever.
func bound(s interface{ SetDeadline(time.Time) error }) {
	s.SetDeadline(time.Now().Add(streamTimeout))
}
