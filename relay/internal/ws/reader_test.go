package ws

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), c.n)])
}

// TestReadBuffersReleased: messages split at every chunking read back
// intact, bytes buffered before the Conn existed come first, and after a
// message that left nothing unread the Conn holds no read buffer and,
// once it reads again, no message buffer.
func TestReadBuffersReleased(t *testing.T) {
	var stream bytes.Buffer
	msgs := [][]byte{[]byte("a"), bytes.Repeat([]byte("b"), 1200), bytes.Repeat([]byte("c"), 3000),
		bytes.Repeat([]byte("d"), 20000), {}, []byte("e")}
	for _, m := range msgs {
		stream.Write(frame(OpBinary, m, true))
	}
	for _, chunk := range []int{1, 2, 7, 100, 1500, 9000, 1 << 20} {
		for _, preLen := range []int{0, 1, 5} {
			all := stream.Bytes()
			// A bufio.Reader that already read preLen bytes, as after an
			// HTTP upgrade.
			br := bufio.NewReader(strings.NewReader(string(all[:preLen])))
			br.Peek(preLen)
			src := &chunkReader{r: bytes.NewReader(all[preLen:]), n: chunk}
			c := NewConn(rwConn{r: src}, br, false, 1<<20)
			for i, want := range msgs {
				_, got, err := c.ReadMessage()
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("chunk %d pre %d: message %d: %d bytes, %v; want %d bytes", chunk, preLen, i, len(got), err, len(want))
				}
			}
			if c.br.buffered() != 0 || c.br.buf != nil {
				t.Fatalf("chunk %d pre %d: read buffer held after the stream was read", chunk, preLen)
			}
			if _, _, err := c.ReadMessage(); err != io.EOF {
				t.Fatalf("chunk %d pre %d: end: %v", chunk, preLen, err)
			}
			if c.rbuf != nil {
				t.Fatalf("chunk %d pre %d: message buffer held while waiting", chunk, preLen)
			}
		}
	}
}

// repeatReader returns the same bytes forever.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

// TestReadMessageDoesNotAllocate: the relay's hot path reads a masked
// datagram frame with no allocation (pooled buffers, the mask read into
// the Conn).
func TestReadMessageDoesNotAllocate(t *testing.T) {
	fr := frame(OpBinary, bytes.Repeat([]byte{7}, 1200), true)
	c := NewConn(rwConn{r: &repeatReader{b: fr}}, nil, false, 1<<20)
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, msg, err := c.ReadMessage(); err != nil || len(msg) != 1200 {
			t.Fatalf("read %d bytes, %v", len(msg), err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per message, want 0", allocs)
	}
}
