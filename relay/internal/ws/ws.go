// Package ws is the small RFC 6455 WebSocket layer under the relay client and
// server: the HTTP/1.1 upgrade on both sides and message framing over a
// net.Conn.
//
// It exists instead of a general WebSocket library because the relay's hot
// path wants three things those libraries do not give together: reading a
// message into a buffer the caller reuses (no allocation per message),
// writing many messages and flushing them with one system call (the relay
// writers batch), and no per-call timers or goroutines of its own (a relay
// holds tens of thousands of connections), and no memory held by an idle
// connection: reads go through a pooled buffer kept only while bytes are
// pending, and message buffers are pooled too. It implements exactly what the
// relay needs: binary and text messages, continuation frames, pings
// answered by the writer (never by the reader), close, masking enforced
// both ways; no extensions (no permessage-deflate), which the iroh relay
// protocol never negotiates.
package ws

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"sync"
	"time"
)

// Opcodes of RFC 6455 §5.2.
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xa
)

// acceptGUID is the fixed string of RFC 6455 §1.3.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
func AcceptKey(key string) string {
	h := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// NewKey returns a fresh random Sec-WebSocket-Key.
func NewKey() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// ErrMessageTooLarge is returned by ReadMessage for a message above the limit.
var ErrMessageTooLarge = errors.New("ws: message exceeds size limit")

// ErrProtocol wraps violations of RFC 6455 framing by the peer.
var ErrProtocol = errors.New("ws: protocol error")

// CloseError is returned by ReadMessage when the peer sent a close frame.
type CloseError struct {
	Code   int // 1005 when the close frame carried no code
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("ws: closed by peer: %d %s", e.Code, e.Reason)
}

// Is makes a CloseError match io.EOF: a close frame is the normal end.
func (e *CloseError) Is(target error) bool { return target == io.EOF }

// Conn is one WebSocket connection. One goroutine may read (ReadMessage)
// while others write (WriteMessage, WriteMessages, FlushControl, which
// serialize on an internal mutex).
//
// The reader never writes a pong itself, so a peer that stops reading
// cannot stall our reads: a ping's answer is kept pending (only the latest,
// as RFC 6455 §5.5.3 allows) and goes out ahead of the next write, or
// sooner when the owner of the writes selects on ControlPending and calls
// FlushControl. Only the answer to the peer's close frame is written by the
// reader, bounded by a short deadline, since the connection ends anyway.
type Conn struct {
	// Set in NewConn, then read-only.
	nc     net.Conn
	client bool // mask outgoing frames (RFC 6455 §5.3)
	max    int

	// Owned by the reader.
	br   lazyReader
	rbuf []byte // the current message; from msgPool when it fits
	hdr  [14]byte

	// OnPing, if set before the first read, is called on the reading
	// goroutine when a peer's ping has left a pong pending (see
	// ControlPending). It must not block.
	OnPing func()

	// pmu guards the pending pong; pongReady (cap 1) signals it.
	pmu       sync.Mutex
	pong      [125]byte
	pongLen   int
	pongSet   bool
	pongReady chan struct{}

	// wmu guards the following.
	wmu    sync.Mutex
	wbuf   []byte // frames of one write; from wbufPool, only during a write
	wbufp  *[]byte
	rng    *mrand.ChaCha8
	closed bool // close frame sent
}

// NewConn wraps nc, which has completed the upgrade. br holds bytes already
// read from nc (may be nil); the Conn takes a copy of its buffered bytes and
// then reads nc itself, so br may be dropped. client selects masking of
// written frames. max bounds the size of a reassembled message.
func NewConn(nc net.Conn, br *bufio.Reader, client bool, max int) *Conn {
	var pre []byte
	if br != nil && br.Buffered() > 0 {
		p, _ := br.Peek(br.Buffered())
		pre = append([]byte(nil), p...)
	}
	return NewConnReader(nc, pre, nc, client, max)
}

// NewConnReader is NewConn reading the connection's bytes from src instead
// of nc (a rate limiter, say), after the bytes in pre (which the Conn
// keeps). Writes go to nc.
func NewConnReader(nc net.Conn, pre []byte, src io.Reader, client bool, max int) *Conn {
	c := &Conn{nc: nc, client: client, max: max, pongReady: make(chan struct{}, 1)}
	c.br = lazyReader{src: src, pre: pre, idle: true}
	if client {
		var seed [32]byte
		rand.Read(seed[:])
		c.rng = mrand.NewChaCha8(seed)
	}
	return c
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// ReadMessage reads the next data message (text or binary) and returns its
// opcode and payload. The payload aliases an internal buffer that is valid
// until the next call. Pings are queued for an answer (see ControlPending),
// pongs ignored. A close frame from
// the peer is answered and returned as *CloseError (which matches io.EOF).
func (c *Conn) ReadMessage() (op int, p []byte, err error) {
	msgOp := -1
	if c.br.buffered() == 0 {
		// About to wait for the peer: an idle connection holds no
		// message buffer.
		c.releaseRbuf()
	}
	c.rbuf = c.rbuf[:0]
	for {
		fin, fop, payload, err := c.readFrame()
		if err != nil {
			return 0, nil, err
		}
		switch fop {
		case OpPing:
			c.pmu.Lock()
			c.pongLen = copy(c.pong[:], payload)
			c.pongSet = true
			c.pmu.Unlock()
			select {
			case c.pongReady <- struct{}{}:
			default:
			}
			if c.OnPing != nil {
				c.OnPing()
			}
			continue
		case OpPong:
			continue
		case OpClose:
			ce := &CloseError{Code: 1005}
			if len(payload) >= 2 {
				ce.Code = int(binary.BigEndian.Uint16(payload))
				ce.Reason = string(payload[2:])
			}
			c.writeControl(OpClose, payload[:min(2, len(payload))])
			return 0, nil, ce
		case OpText, OpBinary:
			if msgOp != -1 {
				return 0, nil, fmt.Errorf("%w: new data frame inside fragmented message", ErrProtocol)
			}
			msgOp = fop
		case OpContinuation:
			if msgOp == -1 {
				return 0, nil, fmt.Errorf("%w: continuation frame without a message", ErrProtocol)
			}
		default:
			return 0, nil, fmt.Errorf("%w: unknown opcode %#x", ErrProtocol, fop)
		}
		if fin {
			return msgOp, c.rbuf, nil
		}
	}
}

// readFrame reads one frame. Data frame payloads are appended to c.rbuf (and
// returned as the appended part); control payloads are returned in a fresh
// small slice.
func (c *Conn) readFrame() (fin bool, op int, payload []byte, err error) {
	h := c.hdr[:2]
	if _, err := io.ReadFull(&c.br, h); err != nil {
		return false, 0, nil, err
	}
	fin = h[0]&0x80 != 0
	if h[0]&0x70 != 0 {
		return false, 0, nil, fmt.Errorf("%w: reserved bits set without extension", ErrProtocol)
	}
	op = int(h[0] & 0x0f)
	masked := h[1]&0x80 != 0
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(&c.br, c.hdr[2:4]); err != nil {
			return false, 0, nil, unexpected(err)
		}
		n = uint64(binary.BigEndian.Uint16(c.hdr[2:4]))
	case 127:
		if _, err := io.ReadFull(&c.br, c.hdr[2:10]); err != nil {
			return false, 0, nil, unexpected(err)
		}
		n = binary.BigEndian.Uint64(c.hdr[2:10])
	}
	// RFC 6455 §5.1: a server closes the connection on an unmasked client
	// frame, and a client on a masked server frame.
	if masked == c.client {
		if c.client {
			return false, 0, nil, fmt.Errorf("%w: masked frame from the server", ErrProtocol)
		}
		return false, 0, nil, fmt.Errorf("%w: unmasked frame from the client", ErrProtocol)
	}
	var mask [4]byte
	if masked {
		// Read into c.hdr, not mask: a local passed to the reader would
		// escape, one allocation per frame.
		if _, err := io.ReadFull(&c.br, c.hdr[10:14]); err != nil {
			return false, 0, nil, unexpected(err)
		}
		mask = [4]byte(c.hdr[10:14])
	}
	if op >= 0x8 {
		if !fin || n > 125 {
			return false, 0, nil, fmt.Errorf("%w: control frame fragmented or longer than 125 bytes", ErrProtocol)
		}
		payload = make([]byte, n)
		if _, err := io.ReadFull(&c.br, payload); err != nil {
			return false, 0, nil, unexpected(err)
		}
		if masked {
			maskBytes(mask, 0, payload)
		}
		return fin, op, payload, nil
	}
	if n > uint64(c.max-len(c.rbuf)) {
		return false, 0, nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, uint64(len(c.rbuf))+n, c.max)
	}
	start := len(c.rbuf)
	end := start + int(n)
	if cap(c.rbuf) < end {
		var nb []byte
		if end <= msgBufSize {
			nb = (*msgPool.Get().(*[msgBufSize]byte))[:start]
		} else {
			nb = make([]byte, start, max(end, 2*cap(c.rbuf)))
		}
		copy(nb, c.rbuf)
		c.releaseRbuf()
		c.rbuf = nb
	}
	c.rbuf = c.rbuf[:end]
	if _, err := io.ReadFull(&c.br, c.rbuf[start:end]); err != nil {
		return false, 0, nil, unexpected(err)
	}
	if masked {
		maskBytes(mask, 0, c.rbuf[start:end])
	}
	return fin, op, c.rbuf[start:end], nil
}

// msgBufSize is the capacity of pooled message buffers: a QUIC datagram
// and its relay frame header fit.
const msgBufSize = 2048

// msgPool holds message buffers of msgBufSize: a connection holds one only
// between the start of a message and the next wait for the peer.
var msgPool = sync.Pool{New: func() any { return new([msgBufSize]byte) }}

// releaseRbuf gives the message buffer back (to msgPool if it came from
// there; larger ones to the garbage collector).
func (c *Conn) releaseRbuf() {
	if cap(c.rbuf) == msgBufSize {
		msgPool.Put((*[msgBufSize]byte)(c.rbuf[:msgBufSize]))
	}
	c.rbuf = nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func maskBytes(key [4]byte, pos int, b []byte) {
	k := binary.LittleEndian.Uint32(key[:])
	k = k>>(8*(pos&3)) | k<<(32-8*(pos&3))
	i := 0
	k64 := uint64(k) | uint64(k)<<32
	for ; i+8 <= len(b); i += 8 {
		v := binary.LittleEndian.Uint64(b[i:])
		binary.LittleEndian.PutUint64(b[i:], v^k64)
	}
	for j := 0; i < len(b); i, j = i+1, j+1 {
		b[i] ^= byte(k >> (8 * (j & 3)))
	}
}

// appendFrameLocked appends one unfragmented frame to c.wbuf, masked on a
// client connection.
func (c *Conn) appendFrameLocked(op int, p []byte) {
	var h [14]byte
	h[0] = 0x80 | byte(op)
	i := 2
	switch n := len(p); {
	case n <= 125:
		h[1] = byte(n)
	case n <= 0xffff:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(n))
		i = 4
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
		i = 10
	}
	var mask [4]byte
	if c.client {
		h[1] |= 0x80
		binary.LittleEndian.PutUint32(mask[:], uint32(c.rng.Uint64()))
		copy(h[i:], mask[:])
		i += 4
	}
	c.wbuf = append(c.wbuf, h[:i]...)
	start := len(c.wbuf)
	c.wbuf = append(c.wbuf, p...)
	if c.client {
		maskBytes(mask, 0, c.wbuf[start:])
	}
}

// WriteMessages writes msgs as unfragmented messages of type op with one
// write to the connection (one system call on TCP), under the given
// deadline (zero: none). The caller's buffers are not modified.
func (c *Conn) WriteMessages(op int, msgs [][]byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.getWbufLocked()
	c.appendPongLocked()
	for _, m := range msgs {
		c.appendFrameLocked(op, m)
	}
	return c.flushLocked(deadline)
}

// WriteMessage writes one message; see WriteMessages.
func (c *Conn) WriteMessage(op int, p []byte, deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.getWbufLocked()
	c.appendPongLocked()
	c.appendFrameLocked(op, p)
	return c.flushLocked(deadline)
}

// ControlPending is signalled when the peer's ping awaits its pong. The
// owner of the writes may select on it and call FlushControl; otherwise the
// pong goes out ahead of the next message written.
func (c *Conn) ControlPending() <-chan struct{} { return c.pongReady }

// FlushControl writes the pending pong, if any, under the given deadline
// (zero: none).
func (c *Conn) FlushControl(deadline time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return net.ErrClosed
	}
	c.getWbufLocked()
	if !c.appendPongLocked() {
		c.releaseWbufLocked()
		return nil
	}
	return c.flushLocked(deadline)
}

// appendPongLocked appends the pending pong to c.wbuf and reports whether
// there was one.
func (c *Conn) appendPongLocked() bool {
	c.pmu.Lock()
	if !c.pongSet {
		c.pmu.Unlock()
		return false
	}
	var p [125]byte
	n := copy(p[:], c.pong[:c.pongLen])
	c.pongSet = false
	c.pmu.Unlock()
	c.appendFrameLocked(OpPong, p[:n])
	return true
}

// wbufPool holds write buffers: a connection holds one only while it
// writes, so idle connections cost no write buffer.
var wbufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func (c *Conn) getWbufLocked() {
	c.wbufp = wbufPool.Get().(*[]byte)
	c.wbuf = (*c.wbufp)[:0]
}

func (c *Conn) flushLocked(deadline time.Time) error {
	c.nc.SetWriteDeadline(deadline)
	_, err := c.nc.Write(c.wbuf)
	c.releaseWbufLocked()
	return err
}

// releaseWbufLocked returns the write buffer, unless it grew unusually
// large.
func (c *Conn) releaseWbufLocked() {
	if cap(c.wbuf) <= 256<<10 {
		*c.wbufp = c.wbuf[:0]
		wbufPool.Put(c.wbufp)
	}
	c.wbuf, c.wbufp = nil, nil
}

func (c *Conn) writeControl(op int, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return nil
	}
	c.getWbufLocked()
	c.appendFrameLocked(op, payload)
	if op == OpClose {
		c.closed = true
	}
	return c.flushLocked(time.Now().Add(2 * time.Second))
}

// WriteClose sends a close frame with code and reason (best effort) and
// marks the connection closed for writing. It does not close the net.Conn.
func (c *Conn) WriteClose(code int, reason string) error {
	p := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(p, uint16(code))
	p = append(p, reason...)
	if len(p) > 125 {
		p = p[:125]
	}
	return c.writeControl(OpClose, p)
}

// Close closes the underlying connection.
func (c *Conn) Close() error { return c.nc.Close() }
