//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package mdns

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reuseControl lets several processes (and Lookups) bind port 5353.
func reuseControl(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
