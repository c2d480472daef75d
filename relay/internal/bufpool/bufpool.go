// Package bufpool pools the frame buffers of the relay client and server:
// buffers up to 2 KiB (a QUIC datagram and its frame header) are reused,
// larger ones are allocated and left to the garbage collector.
package bufpool

import "sync"

// Size is the capacity of pooled buffers.
const Size = 2048

var pool = sync.Pool{New: func() any { return new([Size]byte) }}

// Get returns an empty buffer with room for n bytes, pooled if n ≤ Size.
func Get(n int) []byte {
	if n > Size {
		return make([]byte, 0, n)
	}
	return pool.Get().(*[Size]byte)[:0]
}

// Put returns a buffer from Get to the pool; other buffers are ignored.
// The caller must not use b afterwards.
func Put(b []byte) {
	if cap(b) != Size {
		return
	}
	pool.Put((*[Size]byte)(b[:Size]))
}
