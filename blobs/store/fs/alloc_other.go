//go:build !linux

package fs

import "os"

// preallocate is a no-op where fallocate is not available.
func preallocate(f *os.File, off, n int64) error { return nil }
