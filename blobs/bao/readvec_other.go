//go:build !linux

package bao

import "io"

// readVec reads nothing: without preadv the encoder reads each group with
// ReadAt.
func readVec(r io.ReaderAt, bufs [][]byte, off int64) int { return 0 }
