package main

import (
	"testing"
	"time"
)

// waitFor returns the next value from ch, or fails the test within d,
// saying what did not happen. Tests wait with it for in-process commands
// to return after their context ends, so that a command that ignores its
// context fails the test rather than hanging the run.
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
