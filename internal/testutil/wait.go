package testutil

import (
	"sync"
	"testing"
	"time"
)

// WaitFor returns the next value from ch, or fails the test within d,
// saying what did not happen. Test bodies wait with it rather than with a
// bare receive, so that a lost connection or a stuck goroutine fails the
// test fast instead of hanging the whole run.
func WaitFor[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
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

// WaitGroup waits for wg, or fails the test within d, saying what did not
// happen.
func WaitGroup(t testing.TB, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	WaitFor(t, done, d, what)
}
