package iroh_test

import (
	"context"
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

// bound sets s's read and write deadline to ctx's deadline (30 s from now
// if ctx has none), so that a stalled stream ends a read in the test body
// with a timeout error rather than blocking it forever.
func bound(ctx context.Context, s interface{ SetDeadline(time.Time) error }) {
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(30 * time.Second)
	}
	s.SetDeadline(d)
}
