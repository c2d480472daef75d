//go:build unix

package main

import (
	"runtime"
	"syscall"
	"time"
)

// rusage returns the CPU time (user + system) this process used so far and
// its peak resident set size in bytes.
func rusage() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	rss := int64(ru.Maxrss)
	if runtime.GOOS != "darwin" && runtime.GOOS != "ios" {
		rss *= 1024 // kilobytes elsewhere, bytes on darwin
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), rss
}
