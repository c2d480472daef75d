//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package mdns

import "syscall"

// reuseControl does nothing here: only one Lookup per host can bind 5353.
func reuseControl(network, address string, c syscall.RawConn) error { return nil }
