//go:build !unix

package relayserver

// RaiseFileLimit does nothing on this platform and returns 0.
func RaiseFileLimit(n uint64) (uint64, error) { return 0, nil }
