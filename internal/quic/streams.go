package quic

import (
	"errors"
	"time"
)

// Errors of the application-facing stream operations of the core.
var (
	// ErrStreamLimit: the peer's MAX_STREAMS does not allow another
	// stream now; wait for a StreamsAvailable event.
	ErrStreamLimit = errors.New("quic: stream limit reached")
	// ErrUnknownStream: the stream does not exist (never opened, or
	// finished and forgotten).
	ErrUnknownStream = errors.New("quic: unknown stream")
	// ErrStreamClosed: the operation needs a half of the stream that is
	// closed (writing after Close or on a receive-only stream).
	ErrStreamClosed = errors.New("quic: stream closed")
)

// StreamResetError is a read from a stream the peer reset, or a write to
// a stream the peer asked to stop (STOP_SENDING).
type StreamResetError struct {
	Code   uint64
	Remote bool
	Stop   bool // STOP_SENDING rather than RESET_STREAM
}

func (e *StreamResetError) Error() string {
	if e.Stop {
		return "quic: peer stopped the stream"
	}
	return "quic: stream reset"
}

// streamParams are the flow-control settings for streams: ours (what we
// let the peer send) and the peer's (what it lets us send), from the
// transport parameters.
type streamParams struct {
	// Ours.
	recvWindowBidiLocal  uint64 // streams we open
	recvWindowBidiRemote uint64 // streams the peer opens
	recvWindowUni        uint64
	maxRecvWindow        uint64 // autotuning bound
	sendBufferSize       uint64 // bytes written and not yet sent per stream before Write blocks
	// The peer's.
	peerBidiLocal  uint64 // initial_max_stream_data_bidi_local: streams it opens
	peerBidiRemote uint64 // initial_max_stream_data_bidi_remote: streams we open
	peerUni        uint64
}

// streams is the connection's set of streams, their id spaces and the
// queue of streams with something to send.
type streams struct {
	server bool
	params streamParams
	m      map[StreamID]*stream

	localBidi, localUni   localStreams
	remoteBidi, remoteUni remoteStreams

	// Streams opened by the peer and not yet accepted: bounded by the
	// MAX_STREAMS credit we grant.
	acceptBidi, acceptUni []StreamID

	sendQueue []*stream // round robin of streams with frames to send, from sendHead
	sendHead  int
	turnBytes int // frame bytes the first stream of sendQueue wrote in its turn

	// Streams whose state changed for the application (readable,
	// writable, reset); drained by the connection into events.
	notify []StreamID
	// Streams the peer opened since the last look, for events.
	opened []StreamID
	// Streams forgotten (both halves done) since the last look.
	finished []StreamID
}

func newStreams(server bool, p streamParams, maxBidi, maxUni uint64) *streams {
	return &streams{
		server:     server,
		params:     p,
		m:          make(map[StreamID]*stream),
		localBidi:  localStreams{server: server},
		localUni:   localStreams{server: server, uni: true},
		remoteBidi: newRemoteStreams(maxBidi),
		remoteUni:  newRemoteStreams(maxUni),
	}
}

// isLocal reports whether we opened id.
func (ss *streams) isLocal(id StreamID) bool { return id.ServerInitiated() == ss.server }

func (ss *streams) newStream(id StreamID) *stream {
	s := &stream{id: id}
	local := ss.isLocal(id)
	p := ss.params
	switch {
	case id.IsUni() && local:
		s.sendFlow.limit = p.peerUni
		s.recvState = recvDataRead
	case id.IsUni():
		s.recvFlow = newRecvFlow(p.recvWindowUni, p.maxRecvWindow)
		s.sendState = sendDataRecvd
	case local:
		s.sendFlow.limit = p.peerBidiRemote
		s.recvFlow = newRecvFlow(p.recvWindowBidiLocal, p.maxRecvWindow)
	default:
		s.sendFlow.limit = p.peerBidiLocal
		s.recvFlow = newRecvFlow(p.recvWindowBidiRemote, p.maxRecvWindow)
	}
	ss.m[id] = s
	return s
}

// open opens a stream of ours.
func (ss *streams) open(uni bool) (StreamID, error) {
	l := &ss.localBidi
	if uni {
		l = &ss.localUni
	}
	id, ok := l.open()
	if !ok {
		return 0, ErrStreamLimit
	}
	ss.newStream(id)
	return id, nil
}

// accept returns the oldest stream the peer opened and we did not accept.
func (ss *streams) accept(uni bool) (StreamID, bool) {
	q := &ss.acceptBidi
	if uni {
		q = &ss.acceptUni
	}
	if len(*q) == 0 {
		return 0, false
	}
	id := (*q)[0]
	*q = (*q)[1:]
	return id, true
}

// get returns the stream a frame names, opening the peer's streams up to
// it. It returns nil without error for a stream that is finished and
// forgotten (a late frame). forSend says whether the frame concerns our
// sending half (MAX_STREAM_DATA, STOP_SENDING) rather than the peer's.
func (ss *streams) get(id StreamID, forSend bool) (*stream, *TransportError) {
	if uint64(id) >= 1<<62 {
		return nil, errf(FrameEncodingError, "stream id %d too large", uint64(id))
	}
	local := ss.isLocal(id)
	if id.IsUni() {
		if local && !forSend {
			return nil, errf(StreamStateError, "peer sent data on our unidirectional stream %d", uint64(id))
		}
		if !local && forSend {
			return nil, errf(StreamStateError, "flow frame for the peer's unidirectional stream %d", uint64(id))
		}
	}
	if s := ss.m[id]; s != nil {
		return s, nil
	}
	if local {
		l := &ss.localBidi
		if id.IsUni() {
			l = &ss.localUni
		}
		if id.num() >= l.next {
			return nil, errf(StreamStateError, "frame for our stream %d that we never opened", uint64(id))
		}
		return nil, nil // finished
	}
	r, q := &ss.remoteBidi, &ss.acceptBidi
	if id.IsUni() {
		r, q = &ss.remoteUni, &ss.acceptUni
	}
	first := r.opened
	n, err := r.onReferenced(id.num())
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil // opened before and finished
	}
	for num := first; num <= id.num(); num++ {
		sid := makeStreamID(num, !ss.server, id.IsUni())
		ss.newStream(sid)
		*q = append(*q, sid)
		ss.opened = append(ss.opened, sid)
	}
	return ss.m[id], nil
}

// queueSend puts s on the send queue if it has something to send.
func (ss *streams) queueSend(s *stream) {
	if !s.queued && s.wantsSend() {
		s.queued = true
		if ss.sendHead > 0 && len(ss.sendQueue) == cap(ss.sendQueue) {
			n := copy(ss.sendQueue, ss.sendQueue[ss.sendHead:])
			clear(ss.sendQueue[n:])
			ss.sendQueue, ss.sendHead = ss.sendQueue[:n], 0
		}
		ss.sendQueue = append(ss.sendQueue, s)
	}
}

// queued returns how many streams wait to send.
func (ss *streams) queuedLen() int { return len(ss.sendQueue) - ss.sendHead }

// popSend takes the first stream of the send queue.
func (ss *streams) popSend() *stream {
	s := ss.sendQueue[ss.sendHead]
	ss.sendQueue[ss.sendHead] = nil
	ss.sendHead++
	if ss.sendHead == len(ss.sendQueue) {
		ss.sendQueue, ss.sendHead = ss.sendQueue[:0], 0
	}
	s.queued = false
	return s
}

// unpopSend puts s, just taken with popSend, back at the head of the
// send queue.
func (ss *streams) unpopSend(s *stream) {
	s.queued = true
	if ss.sendHead > 0 {
		ss.sendHead--
		ss.sendQueue[ss.sendHead] = s
		return
	}
	ss.sendQueue = append(ss.sendQueue, nil)
	copy(ss.sendQueue[1:], ss.sendQueue)
	ss.sendQueue[0] = s
}

// changed records that the application may want to look at s, once
// until the notifications are collected.
func (ss *streams) changed(s *stream) {
	if !s.notified {
		s.notified = true
		ss.notify = append(ss.notify, s.id)
	}
}

// takeNotify returns the streams changed since the last call, clearing
// their marks; the slice is valid until the next change.
func (ss *streams) takeNotify() []StreamID {
	ids := ss.notify
	for _, id := range ids {
		if s := ss.m[id]; s != nil {
			s.notified = false
		}
	}
	ss.notify = ss.notify[:0]
	return ids
}

// onStreamFrame handles STREAM data. It returns the growth of the
// stream's highest offset, for connection-level flow control.
func (ss *streams) onStreamFrame(id StreamID, off uint64, data []byte, fin bool) (uint64, *TransportError) {
	s, err := ss.get(id, false)
	if err != nil || s == nil {
		return 0, err
	}
	if s.recvState != recvOpen && s.recvState != recvDataRecvd {
		// Reset: data is dropped, but the final size must agree.
		if end := off + uint64(len(data)); end > s.recv.finalSize || fin && end != s.recv.finalSize {
			return 0, errf(FinalSizeError, "stream %d data to %d after reset at final size %d", uint64(id), end, s.recv.finalSize)
		}
		return 0, nil
	}
	grew, terr := s.recv.push(off, data, fin, s.recvFlow.limit, FlowControlError)
	if terr != nil {
		return 0, terr
	}
	s.recvFlow.received += grew
	if s.stopRead {
		// The application does not read: count the data as consumed
		// so the peer's window keeps moving until it stops.
		if n := s.recv.readable(); n > 0 {
			s.recv.consume(n)
		}
	}
	if s.recv.hasFinal && s.recv.received.containsRange(s.recv.readTo, s.recv.finalSize) {
		s.recvState = recvDataRecvd
	}
	if s.recv.readable() > 0 || s.recvState == recvDataRecvd {
		ss.changed(s)
	}
	return grew, nil
}

// onResetStream handles RESET_STREAM: the final size is checked and the
// data dropped. It returns the growth of the highest offset.
func (ss *streams) onResetStream(id StreamID, code, finalSize uint64) (uint64, *TransportError) {
	s, err := ss.get(id, false)
	if err != nil || s == nil {
		return 0, err
	}
	if s.recvState == recvResetRecvd || s.recvState == recvResetRead || s.recvState == recvDataRead {
		return 0, nil
	}
	if s.recv.hasFinal && s.recv.finalSize != finalSize || finalSize < s.recv.highest {
		return 0, errf(FinalSizeError, "stream %d reset at %d, data received to %d", uint64(id), finalSize, s.recv.highest)
	}
	if finalSize > s.recvFlow.limit {
		return 0, errf(FlowControlError, "stream %d reset at %d past the limit %d", uint64(id), finalSize, s.recvFlow.limit)
	}
	grew := finalSize - s.recv.highest
	s.recv.highest = finalSize
	s.recv.finalSize, s.recv.hasFinal = finalSize, true
	s.recv.free()
	s.recvState = recvResetRecvd
	s.peerResetCode = code
	ss.changed(s)
	return grew, nil
}

// onStopSending handles STOP_SENDING: we reset the stream with the
// peer's code (RFC 9000 §3.5) and tell the writer.
func (ss *streams) onStopSending(id StreamID, code uint64) *TransportError {
	s, err := ss.get(id, true)
	if err != nil || s == nil {
		return err
	}
	if !s.stopped {
		s.stopped, s.stopCode = true, code
		ss.changed(s)
	}
	ss.resetSend(s, code)
	return nil
}

// onMaxStreamData handles MAX_STREAM_DATA.
func (ss *streams) onMaxStreamData(id StreamID, max uint64) *TransportError {
	s, err := ss.get(id, true)
	if err != nil || s == nil {
		return err
	}
	if s.sendFlow.raise(max) {
		ss.queueSend(s)
	}
	return nil
}

// resetSend abandons our sending half with code (RESET_STREAM).
func (ss *streams) resetSend(s *stream, code uint64) {
	if s.sendState != sendOpen && s.sendState != sendDataSent {
		return
	}
	s.sendState = sendResetSent
	s.resetCode = code
	s.resetQueue = true
	s.send.reset()
	ss.queueSend(s)
}

// stopRecv abandons our receiving half with code (STOP_SENDING).
func (ss *streams) stopRecv(s *stream, code uint64) {
	if s.recvState != recvOpen {
		if s.recvState == recvDataRecvd || s.recvState == recvResetRecvd {
			s.recv.free()
			s.recvState++ // to the matching read state
		}
		return
	}
	s.stopRead = true
	s.stopSend = true
	s.ourStopCode = code
	if n := s.recv.readable(); n > 0 {
		s.recv.consume(n)
	}
	s.recv.free()
	ss.queueSend(s)
}

// maybeForget drops a stream whose halves are both terminal, returning
// the peer's credit for its kind.
func (ss *streams) maybeForget(s *stream) {
	if !s.sendDone() || !s.recvDone() || s.resetQueue || s.stopSend {
		return
	}
	if _, ok := ss.m[s.id]; !ok {
		return
	}
	delete(ss.m, s.id)
	ss.finished = append(ss.finished, s.id)
	s.send.reset()
	s.recv.free()
	if !ss.isLocal(s.id) {
		if s.id.IsUni() {
			ss.remoteUni.onClosed()
		} else {
			ss.remoteBidi.onClosed()
		}
	}
}

// read copies stream data for the application. It returns io.EOF-like
// fin at the end, or a *StreamResetError.
func (ss *streams) read(now time.Time, id StreamID, p []byte, rtt time.Duration) (n int, fin bool, err error) {
	s := ss.m[id]
	if s == nil {
		return 0, false, ErrUnknownStream
	}
	switch s.recvState {
	case recvResetRecvd, recvResetRead:
		s.recvState = recvResetRead
		ss.maybeForget(s)
		return 0, false, &StreamResetError{Code: s.peerResetCode, Remote: true}
	case recvDataRead:
		if id.IsUni() && ss.isLocal(id) {
			return 0, false, ErrStreamClosed
		}
		return 0, true, nil
	}
	if s.stopRead {
		return 0, false, ErrStreamClosed
	}
	n, fin = s.recv.read(p)
	if n > 0 {
		s.onConsumedRecv(now, n, rtt)
		ss.queueSend(s)
	}
	if fin {
		s.recvState = recvDataRead
		s.recv.free()
		ss.maybeForget(s)
	}
	return n, fin, nil
}

// write buffers data for sending, up to the per-stream buffer size; it
// returns how much it took (zero when the buffer is full).
func (ss *streams) write(id StreamID, p []byte) (int, error) {
	s := ss.m[id]
	if s == nil {
		return 0, ErrUnknownStream
	}
	if s.stopped {
		return 0, &StreamResetError{Code: s.stopCode, Remote: true, Stop: true}
	}
	if s.sendState != sendOpen || s.send.fin {
		return 0, ErrStreamClosed
	}
	room := ss.params.sendBufferSize - min(s.send.unsent(), ss.params.sendBufferSize)
	n := min(uint64(len(p)), room)
	if n < uint64(len(p)) {
		s.writeBlocked = true
	}
	if n == 0 {
		return 0, nil
	}
	s.send.write(p[:n])
	ss.queueSend(s)
	return int(n), nil
}

// onSentData is called after new data of s went into a packet: a writer
// that found the buffer full is told once half of it is free again.
func (ss *streams) onSentData(s *stream) {
	if s.writeBlocked && s.send.unsent() <= ss.params.sendBufferSize/2 {
		s.writeBlocked = false
		ss.changed(s)
	}
}

// closeSend writes the FIN.
func (ss *streams) closeSend(id StreamID) error {
	s := ss.m[id]
	if s == nil {
		return ErrUnknownStream
	}
	if s.sendState != sendOpen {
		if s.sendState == sendDataRecvd && id.IsUni() && !ss.isLocal(id) {
			return ErrStreamClosed
		}
		return nil
	}
	if s.send.fin {
		return nil
	}
	s.send.close()
	s.sendState = sendDataSent
	ss.queueSend(s)
	return nil
}
