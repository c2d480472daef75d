//go:build unix

package relayserver

import "syscall"

// RaiseFileLimit raises the process's open-file limit (RLIMIT_NOFILE) to at
// least n if it can (raising the hard limit needs privileges) and returns
// the resulting soft limit. A relay holds one descriptor per client.
func RaiseFileLimit(n uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if uint64(lim.Cur) >= n {
		return uint64(lim.Cur), nil
	}
	want := lim
	want.Cur = n
	if uint64(want.Max) < n {
		want.Max = n
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		// Without privileges: go as high as the hard limit allows.
		want = lim
		want.Cur = lim.Max
		if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err2 != nil {
			return uint64(lim.Cur), err
		}
		return uint64(want.Cur), err
	}
	return n, nil
}
