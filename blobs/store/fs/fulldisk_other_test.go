//go:build !linux

package fs_test

func limitFileSize(n uint64) {}
