package docs

import (
	"context"
	"errors"
	"testing"
	"time"
)

func asAbort(err error, ae **AbortError) bool { return errors.As(err, ae) }

// boundedCtx returns the test's context, ended after d, for network waits in
// a test body (a sync with a peer): a peer that never answers fails the test
// rather than hanging it.
func boundedCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
