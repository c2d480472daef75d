package transport

import (
	"sync"
	"testing"
	"time"
)

// waitFor returns the next value from ch, or fails the test within d,
// saying what did not happen, so that a lost stream or connection fails
// the test rather than hanging the run.
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
