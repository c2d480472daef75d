package quic

import "sync"

// chunkSize is the unit of stream buffer memory: large enough that a
// frame rarely spans two chunks, small enough that an idle stream holds
// little.
const chunkSize = 32 << 10

var chunkPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// chunkBuf holds the bytes of a stream at absolute offsets in fixed-size
// pooled chunks: chunk i covers [base + i*chunkSize, base + (i+1)*chunkSize).
// Releasing a prefix returns whole chunks to the pool without copying.
// base is always a multiple of chunkSize.
type chunkBuf struct {
	base   uint64
	chunks []*[chunkSize]byte // nil entries are not allocated yet
}

// slot returns the chunk holding off, allocating it; off must be >= base.
func (c *chunkBuf) slot(off uint64) *[chunkSize]byte {
	i := int((off - c.base) / chunkSize)
	for len(c.chunks) <= i {
		c.chunks = append(c.chunks, nil)
	}
	if c.chunks[i] == nil {
		c.chunks[i] = chunkPool.Get().(*[chunkSize]byte)
	}
	return c.chunks[i]
}

// write copies p to offset off (off >= base).
func (c *chunkBuf) write(off uint64, p []byte) {
	for len(p) > 0 {
		ch := c.slot(off)
		n := copy(ch[(off-c.base)%chunkSize:], p)
		p = p[n:]
		off += uint64(n)
	}
}

// read copies bytes from off into p; the range must have been written.
func (c *chunkBuf) read(off uint64, p []byte) {
	for len(p) > 0 {
		ch := c.slot(off)
		n := copy(p, ch[(off-c.base)%chunkSize:])
		p = p[n:]
		off += uint64(n)
	}
}

// contiguous returns the bytes from off to the end of its chunk, at most
// max, without copying; nil if the chunk is not allocated.
func (c *chunkBuf) contiguous(off uint64, max int) []byte {
	i := int((off - c.base) / chunkSize)
	if i >= len(c.chunks) || c.chunks[i] == nil {
		return nil
	}
	b := c.chunks[i][(off-c.base)%chunkSize:]
	if len(b) > max {
		b = b[:max]
	}
	return b
}

// release frees the chunks that lie wholly below off.
func (c *chunkBuf) release(off uint64) {
	if off <= c.base {
		return
	}
	n := int((off - c.base) / chunkSize)
	if n > len(c.chunks) {
		n = len(c.chunks)
	}
	for i := range n {
		if c.chunks[i] != nil {
			chunkPool.Put(c.chunks[i])
			c.chunks[i] = nil
		}
	}
	c.chunks = append(c.chunks[:0], c.chunks[n:]...)
	c.base += uint64(n) * chunkSize
	if len(c.chunks) == 0 {
		// Realign to the release point's chunk boundary.
		c.base = off / chunkSize * chunkSize
	}
}

// reset returns every chunk to the pool and moves the base to off's
// chunk: no data below off will be written or read again.
func (c *chunkBuf) reset(off uint64) {
	c.free()
	c.base = off / chunkSize * chunkSize
}

// free returns every chunk to the pool.
func (c *chunkBuf) free() {
	for _, ch := range c.chunks {
		if ch != nil {
			chunkPool.Put(ch)
		}
	}
	c.chunks = nil
}

// allocated returns the bytes of memory the buffer holds.
func (c *chunkBuf) allocated() int {
	n := 0
	for _, ch := range c.chunks {
		if ch != nil {
			n += chunkSize
		}
	}
	return n
}
