package blobs_test

import (
	"testing"
	"time"
)

// waitFor returns the next value from ch, or fails the test within d,
// saying what did not happen, so that a stuck goroutine fails the test
// rather than hanging the run.
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
