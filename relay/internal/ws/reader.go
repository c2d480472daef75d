package ws

import (
	"io"
	"sync"
)

// readBufSize is the capacity of pooled read buffers.
const readBufSize = 8 << 10

// readPool holds read buffers of readBufSize.
var readPool = sync.Pool{New: func() any { return new([readBufSize]byte) }}

// lazyReader buffers reads from src with a buffer it holds only while it
// has unread bytes in it: a connection waiting for its peer holds none
// (a relay keeps tens of thousands of connections, most of them idle).
//
// The first read after the buffer was given back goes straight into the
// caller's slice (a frame header: it may wait for a long time); the reads
// that follow fill a pooled buffer with whatever the socket has. A burst
// of messages therefore costs one extra read call, an idle connection no
// buffer. Owned by the reading goroutine.
type lazyReader struct {
	src  io.Reader
	pre  []byte // bytes read before the Conn existed, served first
	buf  *[readBufSize]byte
	r, w int
	idle bool // the buffer was given back; the next read goes direct
}

// buffered returns the number of bytes that can be read without waiting.
func (l *lazyReader) buffered() int { return len(l.pre) + l.w - l.r }

func (l *lazyReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(l.pre) > 0 {
		n := copy(p, l.pre)
		l.pre = l.pre[n:]
		if len(l.pre) == 0 {
			l.pre = nil
		}
		return n, nil
	}
	if l.r == l.w {
		if l.idle || len(p) >= readBufSize {
			l.idle = false
			return l.src.Read(p)
		}
		if l.buf == nil {
			l.buf = readPool.Get().(*[readBufSize]byte)
		}
		l.r, l.w = 0, 0
		n, err := l.src.Read(l.buf[:])
		if n <= 0 {
			l.release()
			return 0, err
		}
		l.w = n
		// An error with data is returned by the next read, which finds
		// the buffer empty and reads src again.
	}
	n := copy(p, l.buf[l.r:l.w])
	l.r += n
	if l.r == l.w {
		l.release()
	}
	return n, nil
}

// release gives the buffer back to the pool.
func (l *lazyReader) release() {
	if l.buf != nil {
		readPool.Put(l.buf)
		l.buf = nil
	}
	l.r, l.w = 0, 0
	l.idle = true
}
