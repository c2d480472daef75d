package quic

import "time"

// sendState is the sending half's state (RFC 9000 §3.1).
type sendState uint8

const (
	sendOpen       sendState = iota // Ready/Send: data may be written
	sendDataSent                    // FIN written; waiting for acknowledgements
	sendDataRecvd                   // everything acknowledged: terminal
	sendResetSent                   // RESET_STREAM queued or in flight
	sendResetRecvd                  // RESET_STREAM acknowledged: terminal
)

// recvState is the receiving half's state (RFC 9000 §3.2).
type recvState uint8

const (
	recvOpen       recvState = iota // Recv/Size Known
	recvDataRecvd                   // all data up to the final size received
	recvDataRead                    // the application read everything: terminal
	recvResetRecvd                  // the peer reset the stream
	recvResetRead                   // the application saw the reset: terminal
)

// stream is the core's state of one stream. Unidirectional streams use
// one half; the other is left terminal from the start.
type stream struct {
	id StreamID

	// Sending half.
	send        sendBuf
	sendFlow    sendFlow
	sendState   sendState
	resetCode   uint64 // our RESET_STREAM code
	resetQueue  bool   // RESET_STREAM to send (again)
	stopCode    uint64 // the peer's STOP_SENDING code, if stopped
	stopped     bool
	queued      bool // in streams.sendQueue
	flowQueued  bool // MAX_STREAM_DATA or STREAM_DATA_BLOCKED to send
	connBlocked bool // in Conn.connBlocked
	// writeBlocked: a write found no room; the application is told when
	// sending made room (streams.onSentData).
	writeBlocked bool
	notified     bool // in streams.notify

	// Receiving half.
	recv          recvBuf
	recvFlow      recvFlow
	recvState     recvState
	peerResetCode uint64
	stopSend      bool // STOP_SENDING to send (again)
	ourStopCode   uint64
	stopRead      bool // the application stopped reading: data is dropped
}

// sendDone reports whether the sending half is terminal.
func (s *stream) sendDone() bool {
	return s.sendState == sendDataRecvd || s.sendState == sendResetRecvd
}

// recvDone reports whether the receiving half is terminal.
func (s *stream) recvDone() bool {
	return s.recvState == recvDataRead || s.recvState == recvResetRead
}

// wantsSend reports whether the stream has a frame to send now: data
// within the stream's flow limit, a FIN, a RESET_STREAM, or flow frames.
// (Connection-level flow control is checked by the caller.)
func (s *stream) wantsSend() bool {
	if s.resetQueue || s.stopSend || s.flowQueued {
		return true
	}
	if s.sendState != sendOpen && s.sendState != sendDataSent {
		return false
	}
	return s.send.hasData(s.sendFlow.limit)
}

// onConsumedRecv is called after the application read n bytes.
func (s *stream) onConsumedRecv(now time.Time, n int, rtt time.Duration) {
	s.recvFlow.onConsumed(now, uint64(n), rtt)
	if s.recvFlow.pending {
		s.flowQueued = true
	}
}
