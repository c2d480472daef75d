package quic

// maxRecvGaps bounds the holes in one stream's out-of-order data. The
// bytes themselves are bounded by flow control, but a peer sending one
// byte in every other position could make the range list large; real
// reordering never comes near this.
const maxRecvGaps = 1024

// recvBuf is the receiving half of a stream or a CRYPTO stream: it
// reassembles data that arrives out of order, up to a limit the caller
// enforces (flow control), and hands it to the reader in order. Memory is
// bounded by the limit: nothing is stored above it. Not safe for
// concurrent use.
type recvBuf struct {
	data      chunkBuf
	readTo    uint64   // the reader has consumed everything below
	received  rangeSet // received ranges at or above readTo
	highest   uint64   // highest offset received (end of the furthest frame)
	finalSize uint64
	hasFinal  bool
}

// push stores a frame's data at off. limit is the highest offset the peer
// may send (flow control or the CRYPTO bound); exceeding it is an error
// with limitCode. It returns how much the highest received offset grew,
// which connection-level flow control counts.
func (r *recvBuf) push(off uint64, p []byte, fin bool, limit uint64, limitCode TransportErrorCode) (grew uint64, err *TransportError) {
	end := off + uint64(len(p))
	if end < off || end > 1<<62-1 {
		return 0, errf(FrameEncodingError, "stream data offset %d length %d past 2^62", off, len(p))
	}
	if end > limit {
		return 0, errf(limitCode, "data to offset %d exceeds the limit %d", end, limit)
	}
	if r.hasFinal && end > r.finalSize {
		return 0, errf(FinalSizeError, "data to offset %d past the final size %d", end, r.finalSize)
	}
	if fin {
		if r.hasFinal && end != r.finalSize {
			return 0, errf(FinalSizeError, "final size changed from %d to %d", r.finalSize, end)
		}
		if end < r.highest {
			return 0, errf(FinalSizeError, "final size %d below data received to %d", end, r.highest)
		}
		r.finalSize, r.hasFinal = end, true
	}
	if end > r.highest {
		grew = end - r.highest
		r.highest = end
	}
	// Skip what the reader has consumed.
	if off < r.readTo {
		if end <= r.readTo {
			return grew, nil
		}
		p = p[r.readTo-off:]
		off = r.readTo
	}
	if len(p) == 0 || r.received.containsRange(off, end) {
		return grew, nil
	}
	r.data.write(off, p)
	r.received.add(off, end)
	if r.received.numRanges() > maxRecvGaps {
		return grew, errf(InternalError, "more than %d gaps in out-of-order stream data", maxRecvGaps)
	}
	return grew, nil
}

// readable returns how many bytes the reader can take in order now.
func (r *recvBuf) readable() int {
	if r.received.empty() || r.received.r[0].start != r.readTo {
		return 0
	}
	return int(r.received.r[0].end - r.readTo)
}

// read copies in-order data into p and returns its length, and whether
// the reader has reached the final size.
func (r *recvBuf) read(p []byte) (n int, fin bool) {
	if a := r.readable(); a > 0 {
		n = min(a, len(p))
		r.data.read(r.readTo, p[:n])
		r.consume(n)
	}
	return n, r.hasFinal && r.readTo == r.finalSize
}

// peek returns up to max in-order bytes without copying (they may be
// fewer than readable when they span chunks); consume them after use.
func (r *recvBuf) peek(max int) []byte {
	a := r.readable()
	if a == 0 {
		return nil
	}
	return r.data.contiguous(r.readTo, min(a, max))
}

// consume marks n readable bytes as read.
func (r *recvBuf) consume(n int) {
	r.readTo += uint64(n)
	r.received.removeBelow(r.readTo)
	if r.received.empty() {
		r.data.reset(r.readTo) // nothing buffered: an idle stream holds no chunk
		return
	}
	r.data.release(r.readTo)
}

// finished reports whether every byte up to the final size was read.
func (r *recvBuf) finished() bool { return r.hasFinal && r.readTo == r.finalSize }

// free drops the buffered data (stream reset or closed for reading).
func (r *recvBuf) free() {
	r.data.free()
	r.received = rangeSet{}
}
