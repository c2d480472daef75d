package iroh_test

import "time"

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
