package fs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// preallocate reserves disk blocks for [off, off+n) of f. Writing into
// allocated blocks is much cheaper on ext4/xfs than extending a sparse
// file page by page, and a full disk shows up here, before the data
// arrives. Filesystems that cannot preallocate are not an error.
func preallocate(f *os.File, off, n int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, off, n)
	if err == nil || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return nil
	}
	return err
}
