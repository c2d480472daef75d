//go:build !unix

package main

import "time"

// rusage is not available here; the report shows zeros.
func rusage() (time.Duration, int64) { return 0, 0 }
