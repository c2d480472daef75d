//go:build !linux

package magicsock

// txOOBForTest is the control data quic-go would pass with a GSO write;
// without GSO it passes none.
func txOOBForTest(uint16, uint8) []byte { return nil }
