package quic

// sendBuf is the sending half of a stream (or a CRYPTO stream): the bytes
// written by the application from the lowest unacknowledged offset up,
// which of them still need sending (new or lost), which are acknowledged,
// and the FIN. Not safe for concurrent use.
type sendBuf struct {
	data    chunkBuf
	acked   rangeSet // acknowledged ranges above ackedTo
	ackedTo uint64   // everything below is acknowledged and released
	written uint64   // end of the data written
	sentTo  uint64   // end of the data sent at least once
	lost    rangeSet // ranges below sentTo to send again

	fin      bool // the application closed the stream: written is the final size
	finSent  bool // a frame with FIN is in flight or acknowledged
	finAcked bool
}

// buffered is how many bytes the buffer holds (written, not acknowledged).
func (s *sendBuf) buffered() uint64 { return s.written - s.ackedTo }

// unsent is how many bytes were written and never sent (lost data to
// send again is not counted: it is bounded by what was in flight).
func (s *sendBuf) unsent() uint64 { return s.written - s.sentTo }

// write appends p. The caller bounds buffered() before writing.
func (s *sendBuf) write(p []byte) {
	s.data.write(s.written, p)
	s.written += uint64(len(p))
}

// close marks the end of the stream at the current write offset.
func (s *sendBuf) close() { s.fin = true }

// hasData reports whether a frame could be sent: lost data, new data below
// limit, or a FIN not yet sent.
func (s *sendBuf) hasData(limit uint64) bool {
	if !s.lost.empty() {
		return true
	}
	if s.sentTo < s.written && s.sentTo < limit {
		return true
	}
	return s.fin && !s.finSent && s.sentTo == s.written
}

// next picks the next frame: lost data first (lowest offset), then new
// data below limit (the peer's flow-control limit for the stream). It
// returns the offset and length, at most max bytes, and whether the frame
// carries the FIN; ok is false when there is nothing to send. It marks
// the range sent; the caller copies the bytes with read before the next
// write, and reports the fate with onAck or onLost.
func (s *sendBuf) next(max int, limit uint64) (off uint64, n int, fin, ok bool) {
	if max > 0 && !s.lost.empty() {
		r := s.lost.r[0]
		l := min(r.len(), uint64(max))
		s.lost.remove(r.start, r.start+l)
		end := r.start + l
		if s.fin && !s.finSent && end == s.written && s.sentTo == s.written {
			s.finSent, fin = true, true
		}
		return r.start, int(l), fin, true
	}
	if max > 0 && s.sentTo < s.written && s.sentTo < limit {
		end := min(s.written, limit, s.sentTo+uint64(max))
		off = s.sentTo
		s.sentTo = end
		if s.fin && end == s.written && !s.finSent {
			s.finSent, fin = true, true
		}
		return off, int(end - off), fin, true
	}
	if s.fin && !s.finSent && s.sentTo == s.written && s.lost.empty() {
		s.finSent = true
		return s.written, 0, true, true
	}
	return 0, 0, false, false
}

// read copies the bytes of [off, off+len(p)) into p.
func (s *sendBuf) read(off uint64, p []byte) { s.data.read(off, p) }

// onAck records the acknowledgement of a frame.
func (s *sendBuf) onAck(off uint64, n int, fin bool) {
	if fin {
		s.finAcked = true
	}
	end := off + uint64(n)
	if end <= s.ackedTo || n == 0 {
		return
	}
	if off < s.ackedTo {
		off = s.ackedTo
	}
	s.acked.add(off, end)
	s.lost.remove(off, end) // a late ack of a frame declared lost
	if s.acked.r[0].start == s.ackedTo {
		s.ackedTo = s.acked.r[0].end
		s.acked.r = append(s.acked.r[:0], s.acked.r[1:]...)
		if s.ackedTo == s.written {
			s.data.reset(s.ackedTo) // everything acknowledged: hold no chunk
		} else {
			s.data.release(s.ackedTo)
		}
	}
}

// onLost records the loss of a frame: its unacknowledged bytes are sent
// again, and the FIN if it carried one.
func (s *sendBuf) onLost(off uint64, n int, fin bool) {
	if fin && !s.finAcked {
		s.finSent = false
	}
	end := off + uint64(n)
	if end <= s.ackedTo {
		return
	}
	if off < s.ackedTo {
		off = s.ackedTo
	}
	// Add only the parts not acknowledged since.
	start := off
	for _, r := range s.acked.r {
		if r.end <= start {
			continue
		}
		if r.start >= end {
			break
		}
		if r.start > start {
			s.lost.add(start, r.start)
		}
		start = r.end
	}
	if start < end {
		s.lost.add(start, end)
	}
}

// done reports whether everything including the FIN is acknowledged.
func (s *sendBuf) done() bool {
	return s.fin && s.finAcked && s.ackedTo == s.written
}

// reset drops all data (RESET_STREAM sent, or the stream is gone).
func (s *sendBuf) reset() {
	s.data.free()
	s.lost = rangeSet{}
	s.acked = rangeSet{}
}

// nextChunk is next with frames that never cross a chunk boundary, so
// their bytes are one contiguous slice of the buffer.
func (s *sendBuf) nextChunk(max int, limit uint64) (off uint64, n int, fin, ok bool) {
	start := s.sentTo
	if !s.lost.empty() {
		start = s.lost.r[0].start
	}
	if left := chunkSize - int(start%chunkSize); max > left {
		max = left
	}
	return s.next(max, limit)
}
