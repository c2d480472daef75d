package quic

import (
	"net/netip"
	"time"

	"github.com/iroh-go/iroh/internal/quic/protect"
	"github.com/iroh-go/iroh/internal/quic/recovery"
	"github.com/iroh-go/iroh/internal/quic/wire"
)

// statelessResetMin is the smallest datagram that can be a stateless
// reset (RFC 9000 §10.3): 5 unpredictable bytes and the 16-byte token.
const statelessResetMin = 21

// Receive processes one UDP datagram from remote, received at now, with
// its ECN codepoint. Bad packets are dropped; a protocol violation closes
// the connection (Err says why, and the CONNECTION_CLOSE goes out with
// the next Send).
func (c *Conn) Receive(now time.Time, datagram []byte, remote netip.AddrPort, ecn uint8) {
	if c.state == stateDrained || c.state == stateDraining {
		return
	}
	p := c.paths[0]
	if remote != p.remote {
		if !c.handshakeDone && !c.server {
			// The server answered from another address (iroh's
			// server_handshake_migration): follow it.
			p.remote = remote
		} else if !c.handshakeDone {
			return
		}
		// Migration (a NAT rebinding) is handled once the packet
		// authenticates, below.
	}
	if c.state == stateClosing {
		c.closeSends++ // answer with CONNECTION_CLOSE again
		return
	}
	countedBytes := false
	first := true
	for len(datagram) > 0 {
		h, err := wire.ParseHeader(datagram, c.localCIDLen())
		if err != nil {
			return
		}
		pkt := datagram[:h.Len]
		datagram = datagram[h.Len:]
		switch h.Type {
		case wire.PacketVersionNegotiation:
			if first && !c.server {
				c.onVersionNegotiation(now, &h)
			}
			return
		case wire.PacketRetry:
			if first && !c.server {
				c.onRetry(now, &h, pkt)
			}
			return
		case wire.PacketUnknownVersion:
			return
		}
		first = false
		ok := c.receivePacket(now, p, &h, pkt, remote, ecn, datagram)
		if ok && !countedBytes {
			countedBytes = true
			p.bytesRecv += uint64(len(pkt) + len(datagram))
		}
		if c.state >= stateClosing {
			return
		}
	}
}

// localCIDLen is the length of our connection ids (short headers to us).
func (c *Conn) localCIDLen() int { return c.paths[0].localCIDs.active[0].id.Len() }

// receivePacket unprotects and processes one packet; it reports whether
// the packet authenticated.
func (c *Conn) receivePacket(now time.Time, p *path, h *wire.Header, pkt []byte, remote netip.AddrPort, ecn uint8, rest []byte) bool {
	var sp recovery.SpaceID
	var lvl int
	switch h.Type {
	case wire.PacketInitial:
		sp, lvl = recovery.Initial, levelInitial
	case wire.PacketHandshake:
		sp, lvl = recovery.Handshake, levelHandshake
	case wire.Packet0RTT:
		if !c.server {
			return false
		}
		sp, lvl = recovery.Application, levelEarly
	default:
		sp, lvl = recovery.Application, levelApp
	}
	// Keep the tail: a failed in-place open zeroes the packet, and the
	// tail may be a stateless reset token.
	var tail [16]byte
	if len(pkt) >= statelessResetMin {
		copy(tail[:], pkt[len(pkt)-16:])
	}
	keys := c.keys.read[lvl]
	if keys == nil {
		c.maybeStatelessReset(h, pkt, tail[:], rest)
		return false
	}
	if h.Type == wire.PacketInitial && c.server && !c.handshakeDone && h.SrcCID != nil {
		// The client's source id becomes our destination id.
		if c.paths[0].remoteCIDs.current().Len() == 0 || !c.gotPacket {
			c.paths[0].remoteCIDs.setInitial(MakeConnectionID(h.SrcCID))
		}
	}
	pnLen, err := keys.UnprotectHeader(pkt, h.PNOffset)
	if err != nil {
		return false
	}
	space := c.space(p, sp)
	largest := wire.NoPacketNumber
	if space.acks.hasLargest {
		largest = space.acks.largest
	}
	pn := wire.DecodePacketNumber(largest, wire.ReadPacketNumber(pkt[h.PNOffset:], pnLen), pnLen)
	hdrLen := h.PNOffset + pnLen
	c.curDCID = MakeConnectionID(h.DstCID)
	var payload []byte
	if h.Type == wire.Packet1RTT {
		payload, err = c.open1RTT(now, pkt, hdrLen, pn)
		if err == nil && c.server && c.keys.read[levelEarly] != nil {
			c.keys.read[levelEarly] = nil // 1-RTT arrived: no more 0-RTT
		}
	} else {
		payload, err = keys.Open(pkt, hdrLen, pn)
	}
	if err != nil {
		if h.Type == wire.Packet1RTT {
			c.maybeStatelessReset(h, pkt, tail[:], rest)
		}
		return false
	}
	// Reserved bits must be zero once the packet authenticated.
	if h.Type == wire.Packet1RTT && pkt[0]&0x18 != 0 || h.Type != wire.Packet1RTT && pkt[0]&0x0c != 0 {
		c.closeWith(now, errf(ProtocolViolation, "reserved header bits set"), closeInfo{code: uint64(ProtocolViolation), reason: "reserved bits"})
		return true
	}
	if space.acks.isDuplicate(pn) {
		return true
	}
	if !c.gotPacket && !c.server && h.SrcCID != nil {
		// The server's source id becomes our destination id.
		c.paths[0].remoteCIDs.setInitial(MakeConnectionID(h.SrcCID))
	}
	c.gotPacket = true
	c.lastRecv = now
	if h.Type == wire.Packet0RTT {
		c.zeroRTTPackets++
	}
	if remote != p.remote && c.handshakeDone && sp == recovery.Application {
		c.onPeerAddressChange(now, p, remote)
	}
	if h.Type == wire.PacketHandshake && c.server {
		// A client's Handshake packet proves its address and ends the
		// Initial space (RFC 9001 §4.9.1).
		p.state = pathValidated
		c.discardSpace(recovery.Initial)
	}
	eliciting, terr := c.processFrames(now, p, sp, h.Type, payload)
	if terr != nil {
		if c.state < stateClosing {
			c.closeWith(now, terr, closeInfo{code: uint64(terr.Code), frameType: terr.FrameType, reason: terr.Reason})
		}
		return true
	}
	if c.state >= stateDraining {
		return true
	}
	space.acks.onReceived(now, pn, eliciting, ecn)
	return true
}

// open1RTT decrypts a 1-RTT packet with the current, next or previous key
// phase and follows a peer-initiated key update.
func (c *Conn) open1RTT(now time.Time, pkt []byte, hdrLen int, pn uint64) ([]byte, error) {
	k := &c.keys
	phase := wire.KeyPhase(pkt[0])
	if phase == k.keyPhaseBit() {
		payload, err := k.read[levelApp].Open(pkt, hdrLen, pn)
		if err == nil && k.prevRead != nil {
			k.onCurrentPhasePacket(now, pn, c.pto())
		}
		return payload, err
	}
	if k.prevRead != nil && (k.phaseStartPN == phaseUnknown || pn < k.phaseStartPN) {
		return k.prevRead.Open(pkt, hdrLen, pn)
	}
	// The peer updated: try the next keys on a copy-free basis (open
	// only writes the plaintext over the ciphertext on success).
	payload, err := k.nextRead.Open(pkt, hdrLen, pn)
	if err != nil {
		return nil, err
	}
	if !c.confirmed {
		c.closeWith(now, errf(KeyUpdateError, "key update before the handshake was confirmed"), closeInfo{code: uint64(KeyUpdateError), reason: "early key update"})
		return payload, nil
	}
	k.update(now, c.pto(), pn)
	return payload, nil
}

// maybeStatelessReset checks whether an undecryptable datagram ends with
// the reset token of one of the peer's connection ids (RFC 9000 §10.3.1).
func (c *Conn) maybeStatelessReset(h *wire.Header, pkt, tok, rest []byte) {
	if h.Type != wire.Packet1RTT || len(rest) > 0 || len(pkt) < statelessResetMin {
		return
	}
	for _, p := range c.paths {
		if p.remoteCIDs.isStatelessReset(tok) {
			c.drain(c.lastRecv, &StatelessResetError{})
			return
		}
	}
}

// onPeerAddressChange handles a 1-RTT packet from a new address (a NAT
// rebinding): the path follows it and is validated again (RFC 9000 §9.3).
func (c *Conn) onPeerAddressChange(now time.Time, p *path, remote netip.AddrPort) {
	p.remote = remote
	p.state = pathValidating
	p.bytesRecv, p.bytesSent = 0, 0
	v := c.randUint64()
	for i := range p.challenge {
		p.challenge[i] = byte(v >> (8 * i))
	}
	p.challengePending = true
	p.challengeSent = now
}

// onRetry handles a Retry packet (RFC 9000 §17.2.5): accepted once,
// before any other packet from the server, if its integrity tag matches
// our original destination id. The ClientHello goes again, with the
// token, to the id the server chose, under Initial keys derived from it.
func (c *Conn) onRetry(now time.Time, h *wire.Header, pkt []byte) {
	if c.gotPacket || c.retryToken != nil || len(h.Token) == 0 || !protect.VerifyRetry(c.origDCID.Bytes(), pkt) {
		return
	}
	scid := MakeConnectionID(h.SrcCID)
	if scid == c.origDCID {
		return
	}
	c.retryToken = append([]byte(nil), h.Token...)
	c.retrySCID = scid
	c.paths[0].remoteCIDs.setInitial(scid)
	c.installInitialKeys(scid)
	cs := &c.crypto[0].send
	if cs.sentTo > cs.ackedTo {
		cs.onLost(cs.ackedTo, int(cs.sentTo-cs.ackedTo), false)
	}
}

// onVersionNegotiation ends a connection whose server does not speak
// version 1 (a VN listing version 1 is ignored, RFC 9000 §6.2).
func (c *Conn) onVersionNegotiation(now time.Time, h *wire.Header) {
	if c.gotPacket {
		return
	}
	v1 := false
	h.Versions(func(v uint32) { v1 = v1 || v == wire.Version1 })
	if v1 {
		return
	}
	c.finish(errf(ConnectionRefused, "the server does not support QUIC version 1"))
}

// processFrames walks a packet's frames; it reports whether any was
// ack-eliciting.
func (c *Conn) processFrames(now time.Time, p *path, sp recovery.SpaceID, pt wire.PacketType, payload []byte) (bool, *TransportError) {
	if len(payload) == 0 {
		return false, errf(ProtocolViolation, "packet without frames")
	}
	it := &c.frameIter
	it.Reset(payload)
	eliciting := false
	for it.Next() {
		f := it.Frame()
		if !f.Type.Allowed(pt) {
			return false, &TransportError{Code: ProtocolViolation, FrameType: uint64(f.Type), Reason: "frame " + f.Type.String() + " not allowed in " + pt.String() + " packet"}
		}
		if f.Type.AckEliciting() {
			eliciting = true
		}
		if err := c.handleFrame(now, p, sp, f); err != nil {
			if err.FrameType == 0 {
				err.FrameType = uint64(f.Type)
			}
			return eliciting, err
		}
		if c.state >= stateDraining {
			return eliciting, nil
		}
	}
	if err := it.Err(); err != nil {
		return eliciting, errf(FrameEncodingError, "%v", err)
	}
	return eliciting, nil
}

// handleFrame dispatches one frame to its handler.
func (c *Conn) handleFrame(now time.Time, p *path, sp recovery.SpaceID, f *wire.Frame) *TransportError {
	switch f.Type {
	case wire.FramePadding, wire.FramePing:
		return nil
	case wire.FrameAck, wire.FrameAckECN:
		a := &f.Ack
		rs := c.ackRanges[:0]
		for _, r := range a.Ranges {
			rs = append(rs, recovery.AckRange{Smallest: r.Smallest, Largest: r.Largest})
		}
		c.ackRanges = rs
		exp := c.peerAckExponent
		if !c.peerParamsSet {
			exp = wire.DefaultAckDelayExponent
		}
		var delay time.Duration
		if sp == recovery.Application && a.Delay < 1<<40 {
			delay = time.Duration(a.Delay<<exp) * time.Microsecond
		}
		return c.onAckFrame(now, p, sp, rs, delay, a.ECN, a.ECNCE)
	case wire.FrameCrypto:
		return c.onCryptoFrame(sp, f.Crypto.Offset, f.Crypto.Data)
	case wire.FrameStream:
		s := &f.Stream
		return c.onStreamData(StreamID(s.StreamID), s.Offset, s.Data, s.Fin)
	case wire.FrameResetStream:
		r := &f.ResetStream
		return c.onResetStream(StreamID(r.StreamID), r.Code, r.FinalSize)
	case wire.FrameStopSending:
		return c.streams.onStopSending(StreamID(f.StopSending.StreamID), f.StopSending.Code)
	case wire.FrameMaxData:
		c.onMaxData(f.MaxData.Max)
	case wire.FrameMaxStreamData:
		return c.streams.onMaxStreamData(StreamID(f.MaxStreamData.StreamID), f.MaxStreamData.Max)
	case wire.FrameMaxStreamsBidi, wire.FrameMaxStreamsUni:
		return c.onMaxStreams(f.MaxStreams.Uni, f.MaxStreams.Max)
	case wire.FrameDataBlocked, wire.FrameStreamsBlockedBidi, wire.FrameStreamsBlockedUni:
		// Informational: our limits move as the application reads.
	case wire.FrameStreamDataBlocked:
		_, err := c.streams.get(StreamID(f.StreamDataBlocked.StreamID), false)
		return err
	case wire.FrameNewToken:
		if c.server {
			return errf(ProtocolViolation, "NEW_TOKEN from a client")
		}
	case wire.FrameNewConnectionID:
		n := &f.NewConnectionID
		return c.onNewConnectionID(p, n.Seq, n.RetirePriorTo, MakeConnectionID(n.CID), ResetToken(n.ResetToken))
	case wire.FrameRetireConnectionID:
		return p.localCIDs.onRetire(f.RetireConnectionID.Seq, c.curDCID, c.cfg.CIDs)
	case wire.FramePathChallenge:
		p.onPathChallenge(f.PathChallenge.Data)
	case wire.FramePathResponse:
		c.onPathResponse(p, f.PathChallenge.Data)
	case wire.FrameConnectionClose, wire.FrameApplicationClose:
		cc := &f.ConnectionClose
		var err error
		if cc.Application {
			err = &ApplicationError{Code: cc.Code, Reason: string(cc.Reason), Remote: true}
		} else {
			err = &TransportError{Code: TransportErrorCode(cc.Code), FrameType: uint64(cc.FrameType), Reason: string(cc.Reason), Remote: true}
		}
		c.drain(now, err)
	case wire.FrameHandshakeDone:
		return c.onHandshakeDoneFrame(now)
	case wire.FrameDatagram, wire.FrameDatagramLen:
		return c.onDatagramFrame(f.Datagram.Data)
	case wire.FrameAckFrequency:
		a := &f.AckFrequency
		return c.onAckFrequencyFrame(p, a.Seq, a.AckElicitingThreshold, time.Duration(a.RequestMaxAckDelay)*time.Microsecond, a.ReorderingThreshold)
	case wire.FrameImmediateAck:
		c.space(p, sp).acks.onImmediateAck()
	default:
		// Multipath and QNT frames before negotiation are violations.
		return errf(ProtocolViolation, "frame %v not negotiated", f.Type)
	}
	return nil
}

// IsInitial reports whether a datagram starts with a QUIC v1 Initial
// packet (the driver checks it before creating a server connection).
func IsInitial(b []byte) bool {
	h, err := wire.ParseHeader(b, 0)
	return err == nil && h.Type == wire.PacketInitial
}

// HandleStatelessReset checks a datagram the driver could not route (its
// destination id is none of ours) for the stateless reset token of one of
// the peer's ids; if it matches, the connection ends (draining) and it
// reports true.
func (c *Conn) HandleStatelessReset(now time.Time, datagram []byte) bool {
	if c.state >= stateDraining || len(datagram) < statelessResetMin || datagram[0]&0x80 != 0 {
		return false
	}
	tok := datagram[len(datagram)-16:]
	for _, p := range c.paths {
		if p.remoteCIDs.isStatelessReset(tok) {
			c.drain(now, &StatelessResetError{})
			return true
		}
	}
	return false
}

// UsedRetry reports whether the server made the client validate its
// address with a Retry.
func (c *Conn) UsedRetry() bool { return c.retrySCID.Len() > 0 }
