package quic

// StreamID is a QUIC stream id: bit 0 is the initiator (0 client, 1
// server), bit 1 the direction (0 bidirectional, 1 unidirectional), the
// rest the stream's number among its kind.
type StreamID uint64

// maxStreamsLimit is the largest MAX_STREAMS value (RFC 9000 §4.6).
const maxStreamsLimit = 1 << 60

// IsUni reports whether the stream is unidirectional.
func (id StreamID) IsUni() bool { return id&2 != 0 }

// ServerInitiated reports whether the server opened the stream.
func (id StreamID) ServerInitiated() bool { return id&1 != 0 }

func (id StreamID) num() uint64 { return uint64(id) >> 2 }

func makeStreamID(num uint64, server, uni bool) StreamID {
	id := StreamID(num << 2)
	if server {
		id |= 1
	}
	if uni {
		id |= 2
	}
	return id
}

// localStreams allocates the ids of one kind (bidi or uni) of stream we
// open, within the peer's MAX_STREAMS.
type localStreams struct {
	server, uni bool
	next        uint64 // number of the next stream to open
	max         uint64 // peer's limit: we may open numbers below it
	blockedAt   uint64 // limit at which STREAMS_BLOCKED was last queued
	blockedOnce bool   // blockedAt is set
	blocked     bool   // a STREAMS_BLOCKED frame should be sent
}

// open returns the next id, or false at the peer's limit (and queues
// STREAMS_BLOCKED once for that limit).
func (l *localStreams) open() (StreamID, bool) {
	if l.next >= l.max {
		if !l.blockedOnce || l.blockedAt != l.max {
			l.blockedAt, l.blockedOnce, l.blocked = l.max, true, true
		}
		return 0, false
	}
	id := makeStreamID(l.next, l.server, l.uni)
	l.next++
	return id, true
}

// raise applies a MAX_STREAMS frame; the limit never decreases. A value
// above 2^60 is a FRAME_ENCODING_ERROR.
func (l *localStreams) raise(max uint64) *TransportError {
	if max > maxStreamsLimit {
		return errf(FrameEncodingError, "MAX_STREAMS %d above 2^60", max)
	}
	if max > l.max {
		l.max = max
	}
	return nil
}

// remoteStreams tracks the streams of one kind the peer opens, and the
// limit we grant: opening a stream implicitly opens all lower ones of
// its kind; a closed stream returns its credit, and MAX_STREAMS is raised
// when half of the initial credit has come back.
type remoteStreams struct {
	initial  uint64 // credit granted in the transport parameters
	max      uint64 // advertised: the peer may open numbers below it
	opened   uint64 // numbers below it are open or closed
	closed   uint64 // streams fully closed (credit to return)
	pending  bool   // a MAX_STREAMS update should be sent
	accepted uint64 // numbers below it were handed to the application
}

func newRemoteStreams(initial uint64) remoteStreams {
	return remoteStreams{initial: initial, max: initial}
}

// onReferenced handles a frame naming stream number num of this kind: it
// returns how many new streams it opens (num and the lower ones), or
// STREAM_LIMIT_ERROR above our limit.
func (r *remoteStreams) onReferenced(num uint64) (uint64, *TransportError) {
	if num >= r.max {
		return 0, errf(StreamLimitError, "stream number %d at or above the limit %d", num, r.max)
	}
	if num < r.opened {
		return 0, nil
	}
	n := num + 1 - r.opened
	r.opened = num + 1
	return n, nil
}

// onClosed returns the credit of a fully closed stream.
func (r *remoteStreams) onClosed() {
	r.closed++
	if newMax := r.closed + r.initial; newMax-r.max >= (r.initial+1)/2 && newMax <= maxStreamsLimit {
		r.max = newMax
		r.pending = true
	}
}

// takeUpdate returns a new MAX_STREAMS value to send, if one is pending.
func (r *remoteStreams) takeUpdate() (uint64, bool) {
	if !r.pending {
		return 0, false
	}
	r.pending = false
	return r.max, true
}
