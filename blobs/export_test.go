package blobs

import (
	"context"
	"io"
)

// ReceiveResponseForTest decodes a response to req (whose non-empty indices
// are the blobs hashes) from r into s, as the downloader does.
func ReceiveResponseForTest(s Store, req *GetRequest, hashes []Hash, r io.Reader) error {
	d := &Downloader{store: s}
	dl := &download{d: d, bad: map[int]error{}}
	return dl.receiveResponse(context.Background(), req, hashes, r)
}

// SetSplitForTest sets the first-part and minimum split sizes (in chunks)
// of blob downloads and returns a function restoring them.
func SetSplitForTest(first, minChunks uint64) (restore func()) {
	f, m := firstPartChunks, splitMinChunks
	firstPartChunks, splitMinChunks = first, minChunks
	return func() { firstPartChunks, splitMinChunks = f, m }
}
