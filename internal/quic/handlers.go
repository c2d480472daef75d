package quic

import (
	"time"

	"github.com/iroh-go/iroh/internal/quic/recovery"
)

// The handlers below apply one received frame each; the packet layer
// parses frames and calls them. A returned *TransportError closes the
// connection with that code.

// onAckFrame applies an ACK (or PATH_ACK) frame for space sp of path p.
func (c *Conn) onAckFrame(now time.Time, p *path, sp recovery.SpaceID, ranges []recovery.AckRange, delay time.Duration, ecn bool, ce uint64) *TransportError {
	p.res.Reset()
	err := p.rec.OnAck(now, sp, &recovery.Ack{Ranges: ranges, Delay: delay, ECN: ecn, CE: ce}, &p.res)
	if err != nil {
		return errf(ProtocolViolation, "ACK in the %v space: %v", sp, err)
	}
	space := c.space(p, sp)
	if len(ranges) > 0 && (!space.hasLargestAcked || ranges[0].Largest > space.largestAcked) {
		space.largestAcked, space.hasLargestAcked = ranges[0].Largest, true
	}
	for i := range p.res.Acked {
		pk := &p.res.Acked[i]
		if sp == recovery.Application {
			c.keys.onAcked(pk.Number)
			if p.pmtud != nil && !pk.NotCongestion {
				p.pmtud.OnAcked(pk.Number, pk.Size)
			}
		}
		c.onFramesAcked(now, p, c.frames.take(pk.Token))
	}
	c.onLostPackets(now, p, p.res.Lost)
	return nil
}

// space returns the packet number space sp of path p.
func (c *Conn) space(p *path, sp recovery.SpaceID) *packetSpace {
	if sp == recovery.Application {
		return &p.app
	}
	return &c.spaces[sp]
}

// onLostPackets handles packets recovery declared lost, in packet number
// order. Only 1-RTT packets are larger than the base size (the handshake
// spaces are gone before the path MTU grows); small ones go to PMTUD too,
// as they show that a loss burst was no black hole.
func (c *Conn) onLostPackets(now time.Time, p *path, lost []recovery.SentPacket) {
	for i := range lost {
		pk := &lost[i]
		if p.pmtud != nil && !pk.NotCongestion {
			if p.pmtud.OnLost(now, pk.Number, pk.Size) {
				c.setMTU(p, p.pmtud.Current())
			}
		}
		c.onFramesLost(now, p, c.frames.take(pk.Token))
	}
}

// setMTU changes the path's datagram size.
func (c *Conn) setMTU(p *path, size int) {
	if size == p.mtu {
		return
	}
	p.mtu = size
	p.rec.SetMaxDatagramSize(size)
}

// onFramesAcked finishes the work of acknowledged frames.
func (c *Conn) onFramesAcked(now time.Time, p *path, recs []frameRecord) {
	ss := c.streams
	for _, f := range recs {
		switch f.kind {
		case frStream:
			s := ss.m[StreamID(f.id)]
			if s == nil {
				continue
			}
			s.send.onAck(f.off, int(f.n), f.fin)
			if s.send.done() && s.sendState == sendDataSent {
				s.sendState = sendDataRecvd
				ss.changed(s)
				ss.maybeForget(s)
			}
		case frCrypto:
			c.crypto[f.id].send.onAck(f.off, int(f.n), false)
		case frResetStream:
			if s := ss.m[StreamID(f.id)]; s != nil && s.sendState == sendResetSent {
				s.sendState = sendResetRecvd
				ss.maybeForget(s)
			}
		case frAck:
			c.space(p, recovery.SpaceID(f.id)).acks.onAckAcked(f.off)
		case frHandshakeDone:
			c.handshakeDoneQueued = false
		case frMTUProbe:
			if p.pmtud != nil {
				p.pmtud.OnProbeAcked(now, int(f.n))
				c.setMTU(p, p.pmtud.Current())
			}
		}
	}
}

// onFramesLost queues the content of lost frames again (RFC 9000 §13.3):
// data and control frames whose information is still current.
func (c *Conn) onFramesLost(now time.Time, p *path, recs []frameRecord) {
	ss := c.streams
	for _, f := range recs {
		switch f.kind {
		case frStream:
			s := ss.m[StreamID(f.id)]
			if s == nil || s.sendState >= sendResetSent {
				continue
			}
			s.send.onLost(f.off, int(f.n), f.fin)
			ss.queueSend(s)
		case frCrypto:
			c.crypto[f.id].send.onLost(f.off, int(f.n), false)
		case frResetStream:
			if s := ss.m[StreamID(f.id)]; s != nil && s.sendState == sendResetSent {
				s.resetQueue = true
				ss.queueSend(s)
			}
		case frStopSending:
			if s := ss.m[StreamID(f.id)]; s != nil && s.stopRead && !s.recvDone() {
				s.stopSend = true
				ss.queueSend(s)
			}
		case frMaxData:
			c.recvFlow.pending = true
		case frMaxStreamData:
			if s := ss.m[StreamID(f.id)]; s != nil && s.recvState == recvOpen {
				s.recvFlow.pending = true
				s.flowQueued = true
				ss.queueSend(s)
			}
		case frMaxStreamsBidi:
			ss.remoteBidi.pending = true
		case frMaxStreamsUni:
			ss.remoteUni.pending = true
		case frNewConnectionID:
			p.localCIDs.onLost(f.id)
		case frRetireConnectionID:
			p.remoteCIDs.pendingRetire = append(p.remoteCIDs.pendingRetire, f.id)
		case frHandshakeDone:
			c.handshakeDoneQueued = true
		case frPathChallenge:
			if p.state == pathValidating {
				p.challengePending = true
			}
		case frMTUProbe:
			if p.pmtud != nil {
				p.pmtud.OnProbeLost(now, int(f.n))
			}
		case frAckFrequency:
			if f.id == c.ackFreqSeq {
				c.ackFreqSeq++
				c.ackFreqSent = false
			}
		case frDataBlocked, frStreamDataBlocked, frStreamsBlockedBidi, frStreamsBlockedUni:
			// Stale by now; sent again if still blocked.
		}
	}
}

// cryptoIndex maps a packet number space to its CRYPTO stream.
func cryptoIndex(sp recovery.SpaceID) int { return int(sp) }

// onCryptoFrame feeds CRYPTO data of space sp to TLS.
func (c *Conn) onCryptoFrame(sp recovery.SpaceID, off uint64, data []byte) *TransportError {
	cs := &c.crypto[cryptoIndex(sp)]
	if err := cs.push(off, data); err != nil {
		return err
	}
	for b := cs.peek(); len(b) > 0; b = cs.peek() {
		err := c.tls.HandleData(tlsLevel(sp), b) // copies what it keeps
		cs.consume(len(b))
		if err != nil {
			return tlsError(err)
		}
	}
	return c.processTLS()
}

// onMaxData applies MAX_DATA.
func (c *Conn) onMaxData(max uint64) {
	if c.sendFlow.raise(max) {
		for _, s := range c.connBlocked {
			s.connBlocked = false
			c.streams.queueSend(s)
		}
		c.connBlocked = c.connBlocked[:0]
	}
}

// onMaxStreams applies MAX_STREAMS.
func (c *Conn) onMaxStreams(uni bool, max uint64) *TransportError {
	l := &c.streams.localBidi
	if uni {
		l = &c.streams.localUni
	}
	old := l.max
	if err := l.raise(max); err != nil {
		return err
	}
	if l.max > old {
		c.emit(Event{Kind: EventStreamsAvailable})
	}
	return nil
}

// onStreamData applies a STREAM frame, with connection-level flow control.
func (c *Conn) onStreamData(id StreamID, off uint64, data []byte, fin bool) *TransportError {
	grew, err := c.streams.onStreamFrame(id, off, data, fin)
	if err != nil {
		return err
	}
	if !c.recvFlow.onReceived(grew) {
		return errf(FlowControlError, "connection data %d past the limit %d", c.recvFlow.received, c.recvFlow.limit)
	}
	if s := c.streams.m[id]; grew > 0 && (s == nil || s.stopRead || s.recvState >= recvResetRecvd) {
		// Nobody will read these bytes: credit them at once.
		c.recvFlow.onConsumed(time.Time{}, grew, 0)
	}
	return nil
}

// onResetStream applies RESET_STREAM, with connection-level flow control.
func (c *Conn) onResetStream(id StreamID, code, finalSize uint64) *TransportError {
	grew, err := c.streams.onResetStream(id, code, finalSize)
	if err != nil {
		return err
	}
	if !c.recvFlow.onReceived(grew) {
		return errf(FlowControlError, "connection data %d past the limit %d", c.recvFlow.received, c.recvFlow.limit)
	}
	// The reset stream's unread bytes count as consumed.
	c.recvFlow.onConsumed(time.Time{}, grew, 0)
	return nil
}

// onNewConnectionID applies NEW_CONNECTION_ID (path 0 without multipath).
func (c *Conn) onNewConnectionID(p *path, seq, retirePriorTo uint64, id ConnectionID, tok ResetToken) *TransportError {
	if p.remoteCIDs.current().Len() == 0 {
		return errf(ProtocolViolation, "NEW_CONNECTION_ID while the peer uses zero-length ids")
	}
	return p.remoteCIDs.onNew(seq, retirePriorTo, id, tok)
}

// onPathResponse validates a path.
func (c *Conn) onPathResponse(p *path, data [8]byte) {
	if p.onPathResponse(data) {
		p.challengePending = false
	}
}

// onHandshakeDoneFrame handles HANDSHAKE_DONE (client only).
func (c *Conn) onHandshakeDoneFrame(now time.Time) *TransportError {
	if c.server {
		return errf(ProtocolViolation, "HANDSHAKE_DONE from a client")
	}
	c.confirm(now)
	return nil
}

// onDatagramFrame handles DATAGRAM.
func (c *Conn) onDatagramFrame(p []byte) *TransportError {
	if c.cfg.DisableDatagrams {
		return errf(ProtocolViolation, "DATAGRAM frame, but we do not accept datagrams")
	}
	if uint64(len(p)) > c.cfg.MaxDatagramFrameSize {
		return errf(ProtocolViolation, "DATAGRAM of %d bytes above our limit %d", len(p), c.cfg.MaxDatagramFrameSize)
	}
	c.onDatagram(p)
	return nil
}

// onAckFrequencyFrame applies ACK_FREQUENCY (draft-ietf-quic-ack-frequency).
func (c *Conn) onAckFrequencyFrame(p *path, seq, threshold uint64, maxAckDelay time.Duration, reorder uint64) *TransportError {
	if maxAckDelay < DefaultMinAckDelay {
		return errf(ProtocolViolation, "ACK_FREQUENCY max ack delay %v below our min_ack_delay %v", maxAckDelay, DefaultMinAckDelay)
	}
	p.app.acks.onAckFrequency(seq, threshold, maxAckDelay, reorder)
	return nil
}
