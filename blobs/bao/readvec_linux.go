package bao

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// readVec reads into bufs from r starting at off with one preadv if r is
// an *os.File, and returns how many bytes it read (0 if it cannot or the
// read failed; the caller reads the rest with ReadAt).
func readVec(r io.ReaderAt, bufs [][]byte, off int64) int {
	f, ok := r.(*os.File)
	if !ok || len(bufs) > 1024 { // IOV_MAX
		return 0
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	var n int
	rc.Read(func(fd uintptr) bool {
		n, err = unix.Preadv(int(fd), bufs, off)
		return true
	})
	if err != nil || n < 0 {
		return 0
	}
	return n
}
