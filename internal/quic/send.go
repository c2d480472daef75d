package quic

import (
	"net/netip"
	"time"

	"github.com/iroh-go/iroh/internal/quic/recovery"
	"github.com/iroh-go/iroh/internal/quic/wire"
)

// aeadTagLen is the tag length of every QUIC v1 AEAD.
const aeadTagLen = 16

// Send fills buf with up to maxSegments datagrams for one destination:
// all but the last of exactly segment bytes, so the driver can hand them
// to the kernel as one GSO send. It returns n == 0 when there is nothing
// to send now (see Timeout for when there will be). buf must hold at
// least one datagram of the path's size.
func (c *Conn) Send(now time.Time, buf []byte, maxSegments int) (n, segment int, to netip.AddrPort) {
	p := c.paths[0]
	to = p.remote
	if c.state == stateDrained || c.state == stateDraining {
		return 0, 0, to
	}
	size := p.mtu
	if c.probes[recovery.Application] > 0 && p.rec.PTOCount() >= 2 && size > recovery.MinDatagramSize {
		// Two PTOs in a row and nothing acknowledged: the path may have
		// stopped carrying large datagrams. Probes of the base size get
		// through such a black hole, and their ACKs let loss detection
		// and PMTUD find it (RFC 8899 §4.3 leaves the signal to us).
		size = recovery.MinDatagramSize
	}
	if maxSegments < 1 {
		maxSegments = 1
	}
	budget, paceAt := p.rec.SendBudget(now)
	c.paceAt = time.Time{}
	if n := c.maybeSendMTUProbe(now, p, buf, &budget); n > 0 {
		c.lastSend = now
		return n, n, to
	}
	for seg := 0; seg < maxSegments && len(buf)-n >= size; seg++ {
		m := c.buildDatagram(now, p, buf[n:n+size], &budget)
		if m == 0 {
			break
		}
		n += m
		if seg == 0 {
			segment = m
		}
		if m < size || c.state >= stateClosing {
			break
		}
	}
	if budget < size && c.hasAppData() {
		c.paceAt = paceAt // zero: the window is full, an ACK will open it
	}
	if n > 0 {
		c.lastSend = now
	}
	return n, segment, to
}

// hasAppData reports whether stream data or datagrams wait to be sent.
func (c *Conn) hasAppData() bool {
	return c.streams.queuedLen() > 0 || len(c.dgramOut) > 0
}

// buildDatagram writes one datagram into b (whose length is the maximum
// size) and returns its length.
func (c *Conn) buildDatagram(now time.Time, p *path, b []byte, budget *int) int {
	max := len(b)
	if c.server && p.state != pathValidated {
		room := p.amplificationRoom()
		if room < uint64(max) {
			max = int(room)
		}
		p.rec.SetAmplificationBlocked(room < uint64(len(b)))
		if max < 64 {
			return 0
		}
	}
	out := b[:0]
	if c.state == stateClosing {
		if c.closeSends <= 0 {
			return 0
		}
		c.closeSends--
		out = c.appendClosePacket(now, p, out, max)
		p.bytesSent += uint64(len(out))
		return len(out)
	}
	// Which levels have something to send: the last of them is padded
	// when the datagram carries an Initial (RFC 9000 §14.1).
	var want [3]bool
	last := -1
	for lvl := range 3 {
		if c.wantsToSend(now, p, lvl, *budget) {
			want[lvl] = true
			last = lvl
		}
	}
	if last < 0 {
		return 0
	}
	padTo := 0
	if want[0] && (!c.server || c.crypto[0].send.hasData(1<<62)) {
		padTo = wire.MinInitialDatagramSize
	}
	for lvl := range 3 {
		if !want[lvl] {
			continue
		}
		pad := 0
		if lvl == last && padTo > 0 {
			pad = min(padTo, max) // the amplification limit wins
		}
		out = c.appendPacket(now, p, lvl, out, max, pad, budget, false)
	}
	p.bytesSent += uint64(len(out))
	return len(out)
}

// sendLevelOf is sendLevel, with the 0-RTT keys standing in for 1-RTT on
// a client that has the former and not yet the latter.
func (c *Conn) sendLevelOf(i int) (int, recovery.SpaceID) {
	lvl, sp := sendLevel(i)
	if lvl == levelApp && c.keys.write[levelApp] == nil && c.keys.write[levelEarly] != nil {
		return levelEarly, sp
	}
	return lvl, sp
}

// sendLevel maps 0, 1, 2 to the Initial, Handshake and 1-RTT keys.
func sendLevel(i int) (int, recovery.SpaceID) {
	switch i {
	case 0:
		return levelInitial, recovery.Initial
	case 1:
		return levelHandshake, recovery.Handshake
	}
	return levelApp, recovery.Application
}

// wantsToSend reports whether level i has a packet to send.
func (c *Conn) wantsToSend(now time.Time, p *path, i int, budget int) bool {
	lvl, sp := c.sendLevelOf(i)
	if c.keys.write[lvl] == nil {
		return false
	}
	space := c.space(p, sp)
	if space.discarded {
		return false
	}
	if c.probes[sp] > 0 {
		return true
	}
	if space.acks.ackDue(now) {
		return true
	}
	canSend := budget >= p.mtu
	if !canSend {
		return false
	}
	if c.crypto[cryptoIndex(sp)].send.hasData(1 << 62) {
		return true
	}
	if sp != recovery.Application || !c.handshakeDone && c.server {
		return false
	}
	if lvl == levelEarly {
		return c.hasAppData()
	}
	return c.hasControl(p) || c.hasAppData() || c.pingPending
}

// hasControl reports whether 1-RTT control frames are pending.
func (c *Conn) hasControl(p *path) bool {
	ss := c.streams
	if c.handshakeDoneQueued || c.recvFlow.pending || c.sendFlow.blocked || c.ackFreqPending() {
		return true
	}
	if ss.remoteBidi.pending || ss.remoteUni.pending || ss.localBidi.blocked || ss.localUni.blocked {
		return true
	}
	if len(p.responses) > 0 || p.challengePending || len(p.remoteCIDs.pendingRetire) > 0 {
		return true
	}
	for i := range p.localCIDs.active {
		if !p.localCIDs.active[i].sent {
			return true
		}
	}
	return false
}

// appendPacket appends one packet of level i to out, at most max bytes
// in all, padded to pad bytes in all; budget is the congestion and
// pacing allowance for in-flight bytes.
func (c *Conn) appendPacket(now time.Time, p *path, i int, out []byte, max, pad int, budget *int, mtuProbe bool) []byte {
	lvl, sp := c.sendLevelOf(i)
	early := lvl == levelEarly
	keys := c.keys.write[lvl]
	space := c.space(p, sp)
	pn := space.nextPN
	largestAcked := wire.NoPacketNumber
	if space.hasLargestAcked {
		largestAcked = space.largestAcked
	}
	pnLen := wire.PacketNumberLen(pn, largestAcked)
	start := len(out)
	dcid := p.remoteCIDs.current()
	var lengthOff int
	long := sp != recovery.Application || early
	if !long {
		out = wire.AppendShortHeader(out, dcid.Bytes(), pn, pnLen, c.keys.keyPhaseBit(), false)
	} else {
		h := wire.LongHeader{Type: wire.PacketInitial, Version: wire.Version1, DstCID: dcid.Bytes(), SrcCID: c.scid.Bytes()}
		switch {
		case early:
			h.Type = wire.Packet0RTT
		case sp == recovery.Handshake:
			h.Type = wire.PacketHandshake
		case !c.server:
			h.Token = c.retryToken
		}
		if start+h.Len(pnLen)+aeadTagLen+8 > max {
			return out
		}
		out, lengthOff = h.Append(out, pn, pnLen)
	}
	hdrLen := len(out) - start
	limit := max - aeadTagLen
	if limit-len(out) < 8 {
		return out[:start]
	}
	token, recs := c.frames.alloc()
	w := frameWriter{b: out, limit: limit, recs: recs}
	inFlightAllowed := *budget >= p.mtu || c.probes[sp] > 0

	// ACK first: it is small and never congestion-limited (0-RTT
	// packets cannot carry one).
	if space.acks.wantsAck() && !early {
		c.appendAck(now, &w, space, sp)
	}
	if mtuProbe {
		// A path MTU probe: PING and PADDING to exactly the probed size,
		// nothing that would need resending (RFC 9000 §14.4).
		w.b = append(w.b, byte(wire.FramePing))
		w.eliciting = true
		w.recs = append(w.recs, frameRecord{kind: frMTUProbe, n: uint32(pad)})
	} else if inFlightAllowed {
		c.appendCrypto(&w, sp)
		if sp == recovery.Application && (c.handshakeDone || !c.server) {
			if !early {
				c.appendControl(now, p, &w)
			}
			c.appendDatagrams(&w)
			c.appendStreams(&w)
		}
		if !w.eliciting && (c.probes[sp] > 0 || sp == recovery.Application && c.pingPending) && w.room() >= 1 {
			w.b = append(w.b, byte(wire.FramePing))
			w.eliciting = true
			w.recs = append(w.recs, frameRecord{kind: frPing})
		}
	}
	if len(w.b) == len(out) {
		c.frames.set(token, w.recs)
		c.frames.take(token)
		return out[:start]
	}
	if w.eliciting && c.probes[sp] > 0 {
		c.probes[sp]--
	}
	if sp == recovery.Application && w.eliciting {
		c.pingPending = false
	}
	// Header protection samples 16 bytes from 4 after the packet number.
	payloadLen := len(w.b) - (start + hdrLen)
	if minPayload := 4 - pnLen; payloadLen < minPayload {
		w.b = wire.AppendPadding(w.b, minPayload-payloadLen)
	}
	padded := false
	if pad > 0 && len(w.b)+aeadTagLen < pad {
		w.b = wire.AppendPadding(w.b, pad-len(w.b)-aeadTagLen)
		padded = true
	}
	if long {
		wire.PutVarint2(w.b[start+lengthOff-start:], uint64(len(w.b)-start-hdrLen+pnLen+aeadTagLen))
	}
	pkt := keys.Seal(w.b[start:], hdrLen, pn)
	keys.ProtectHeader(pkt, hdrLen-pnLen)
	out = w.b[:start+len(pkt)]
	space.nextPN++
	if early {
		c.zeroRTTPackets++
	}
	if len(w.recs) > 0 {
		c.frames.set(token, w.recs)
	} else {
		c.frames.set(token, w.recs)
		c.frames.take(token)
		token = 0
	}
	inFlight := w.eliciting || padded
	err := p.rec.OnSent(now, sp, recovery.SentPacket{
		Number: pn, Time: now, Size: len(pkt), Token: token,
		AckEliciting: w.eliciting, InFlight: inFlight, NotCongestion: mtuProbe,
	})
	if err != nil && token != 0 {
		// The tracker is full: the frames are lost with the packet.
		c.onFramesLost(now, p, c.frames.take(token))
	}
	if inFlight {
		*budget -= len(pkt)
	}
	if sp == recovery.Application && !early {
		c.keys.onSent(pn)
		if c.keys.shouldInitiate(c.confirmed) {
			c.keys.update(now, c.pto(), phaseUnknown)
		}
	}
	if sp == recovery.Handshake && !c.server {
		// A client's first Handshake packet ends the Initial space.
		c.discardSpace(recovery.Initial)
	}
	return out
}

// frameWriter appends frames to a packet up to a limit and records them.
type frameWriter struct {
	b         []byte
	limit     int
	recs      []frameRecord
	eliciting bool
}

func (w *frameWriter) room() int { return w.limit - len(w.b) }

// appendAck writes the space's ACK frame.
func (c *Conn) appendAck(now time.Time, w *frameWriter, space *packetSpace, sp recovery.SpaceID) {
	rs := space.acks.ranges()
	if len(rs) == 0 {
		return
	}
	wr := c.ackOut[:0]
	for i := len(rs) - 1; i >= 0; i-- {
		wr = append(wr, wire.AckRange{Smallest: rs[i].start, Largest: rs[i].end - 1})
	}
	c.ackOut = wr
	f := wire.AckFrame{Ranges: wr}
	if sp == recovery.Application {
		f.Delay = uint64(space.acks.ackDelay(now)/time.Microsecond) >> wire.DefaultAckDelayExponent
	}
	if e := space.acks.ecn; e != [3]uint64{} {
		f.ECN, f.ECT0, f.ECT1, f.ECNCE = true, e[0], e[1], e[2]
	}
	for f.Len() > w.room() && len(f.Ranges) > 1 {
		f.Ranges = f.Ranges[:len(f.Ranges)-1]
	}
	if f.Len() > w.room() {
		return
	}
	w.b = f.Append(w.b)
	w.recs = append(w.recs, frameRecord{kind: frAck, id: uint64(sp), off: wr[0].Largest})
	space.acks.onAckSent()
}

// appendCrypto writes CRYPTO frames of the space's level.
func (c *Conn) appendCrypto(w *frameWriter, sp recovery.SpaceID) {
	cs := &c.crypto[cryptoIndex(sp)]
	for cs.send.hasData(1 << 62) {
		avail := w.room() - wire.CryptoOverhead(cs.send.sentTo+uint64(w.room()), w.room())
		if avail <= 0 {
			return
		}
		off, n, _, ok := cs.send.nextChunk(avail, 1<<62)
		if !ok {
			return
		}
		f := wire.CryptoFrame{Offset: off, Data: cs.send.data.contiguous(off, n)}
		w.b = f.Append(w.b)
		w.recs = append(w.recs, frameRecord{kind: frCrypto, id: uint64(cryptoIndex(sp)), off: off, n: uint32(n)})
		w.eliciting = true
	}
}

// appendControl writes the 1-RTT control frames that are due.
func (c *Conn) appendControl(now time.Time, p *path, w *frameWriter) {
	ss := c.streams
	add := func(f interface {
		Len() int
		Append([]byte) []byte
	}, rec frameRecord) bool {
		if f.Len() > w.room() {
			return false
		}
		w.b = f.Append(w.b)
		w.recs = append(w.recs, rec)
		w.eliciting = true
		return true
	}
	if c.handshakeDoneQueued && c.server {
		if add(wire.SimpleFrame{Type: wire.FrameHandshakeDone}, frameRecord{kind: frHandshakeDone}) {
			c.handshakeDoneQueued = false
		}
	}
	for len(p.responses) > 0 {
		if !add(&wire.PathChallengeFrame{Response: true, Data: p.responses[0]}, frameRecord{kind: frPathResponse}) {
			break
		}
		p.responses = p.responses[1:]
	}
	if p.challengePending {
		if add(&wire.PathChallengeFrame{Data: p.challenge}, frameRecord{kind: frPathChallenge}) {
			p.challengePending = false
			p.challengeSent = now
		}
	}
	if c.ackFreqPending() {
		// Fewer ACKs from a peer that supports the ACK-frequency draft:
		// one every ackElicitingThreshold+1 packets, with the delay it
		// announced, so our PTO computation stays right.
		f := &wire.AckFrequencyFrame{
			Seq:                   c.ackFreqSeq,
			AckElicitingThreshold: ackElicitingThreshold,
			RequestMaxAckDelay:    uint64(max(c.peerMaxAckDelay, c.peerMinAckDelay) / time.Microsecond),
			ReorderingThreshold:   1,
		}
		if add(f, frameRecord{kind: frAckFrequency, id: c.ackFreqSeq}) {
			c.ackFreqSent = true
		}
	}
	if c.recvFlow.pending {
		if add(&wire.MaxDataFrame{Max: c.recvFlow.limit}, frameRecord{kind: frMaxData}) {
			c.recvFlow.pending = false
		}
	}
	if ss.remoteBidi.pending {
		if add(&wire.MaxStreamsFrame{Max: ss.remoteBidi.max}, frameRecord{kind: frMaxStreamsBidi}) {
			ss.remoteBidi.pending = false
		}
	}
	if ss.remoteUni.pending {
		if add(&wire.MaxStreamsFrame{Uni: true, Max: ss.remoteUni.max}, frameRecord{kind: frMaxStreamsUni}) {
			ss.remoteUni.pending = false
		}
	}
	if c.sendFlow.blocked {
		if add(&wire.DataBlockedFrame{Limit: c.sendFlow.limit}, frameRecord{kind: frDataBlocked}) {
			c.sendFlow.blocked = false
		}
	}
	if ss.localBidi.blocked {
		if add(&wire.StreamsBlockedFrame{Limit: ss.localBidi.max}, frameRecord{kind: frStreamsBlockedBidi}) {
			ss.localBidi.blocked = false
		}
	}
	if ss.localUni.blocked {
		if add(&wire.StreamsBlockedFrame{Uni: true, Limit: ss.localUni.max}, frameRecord{kind: frStreamsBlockedUni}) {
			ss.localUni.blocked = false
		}
	}
	for len(p.remoteCIDs.pendingRetire) > 0 {
		seq := p.remoteCIDs.pendingRetire[0]
		if !add(&wire.RetireConnectionIDFrame{Seq: seq}, frameRecord{kind: frRetireConnectionID, id: seq}) {
			break
		}
		p.remoteCIDs.pendingRetire = p.remoteCIDs.pendingRetire[1:]
	}
	for i := range p.localCIDs.active {
		l := &p.localCIDs.active[i]
		if l.sent {
			continue
		}
		f := &wire.NewConnectionIDFrame{Seq: l.seq, CID: l.id.Bytes(), ResetToken: l.token}
		if !add(f, frameRecord{kind: frNewConnectionID, id: l.seq}) {
			break
		}
		l.sent = true
	}
}

// appendDatagrams writes queued DATAGRAM frames that fit.
func (c *Conn) appendDatagrams(w *frameWriter) {
	for len(c.dgramOut) > 0 {
		d := c.dgramOut[0]
		f := wire.DatagramFrame{Data: d}
		if f.Len() > w.room() {
			if f.Len() > c.maxDatagramPayload()+8 {
				c.dgramOut = c.dgramOut[1:] // can never fit
				continue
			}
			return
		}
		w.b = f.Append(w.b)
		w.recs = append(w.recs, frameRecord{kind: frDatagram})
		w.eliciting = true
		c.dgramOut[0] = nil
		c.dgramOut = c.dgramOut[1:]
	}
}

// maxDatagramPayload is the largest datagram payload one packet carries.
func (c *Conn) maxDatagramPayload() int {
	p := c.paths[0]
	return p.mtu - (1 + MaxConnectionIDLen + 4) - aeadTagLen - wire.DatagramOverhead(p.mtu, false)
}

// streamQuantum is how many bytes of frames the first stream of the send
// queue writes before the next one's turn: about one GSO batch, so the
// packets of a receive batch mostly carry one stream, and the peer wakes
// one reader per batch rather than every stream's.
const streamQuantum = 64 << 10

// appendStreams writes stream frames round robin: the first stream with
// something to send fills the packet, keeps its place until it has
// written streamQuantum bytes, then goes to the back of the queue if it
// has more.
func (c *Conn) appendStreams(w *frameWriter) {
	ss := c.streams
	for n := ss.queuedLen(); n > 0 && w.room() > 16; n-- {
		s := ss.popSend()
		before := len(w.b)
		c.appendStreamFrames(w, s)
		ss.turnBytes += len(w.b) - before
		if w.room() <= 16 && ss.turnBytes < streamQuantum && s.wantsSend() {
			ss.unpopSend(s) // the packet is full; s keeps its turn
			return
		}
		ss.turnBytes = 0
		ss.queueSend(s)
		// Blocked by flow control with room left: the others go on.
	}
}

// appendStreamFrames writes the frames one stream has ready.
func (c *Conn) appendStreamFrames(w *frameWriter, s *stream) {
	ss := c.streams
	id := uint64(s.id)
	elicit := func(rec frameRecord) {
		w.recs = append(w.recs, rec)
		w.eliciting = true
	}
	if s.resetQueue {
		f := wire.ResetStreamFrame{StreamID: id, Code: s.resetCode, FinalSize: s.send.sentTo}
		if f.Len() > w.room() {
			return
		}
		w.b = f.Append(w.b)
		elicit(frameRecord{kind: frResetStream, id: id})
		s.resetQueue = false
	}
	if s.stopSend {
		f := wire.StopSendingFrame{StreamID: id, Code: s.ourStopCode}
		if f.Len() > w.room() {
			return
		}
		w.b = f.Append(w.b)
		elicit(frameRecord{kind: frStopSending, id: id})
		s.stopSend = false
	}
	if s.flowQueued {
		if s.recvFlow.pending && s.recvState == recvOpen {
			f := wire.MaxStreamDataFrame{StreamID: id, Max: s.recvFlow.limit}
			if f.Len() > w.room() {
				return
			}
			w.b = f.Append(w.b)
			elicit(frameRecord{kind: frMaxStreamData, id: id})
			s.recvFlow.pending = false
		}
		if s.sendFlow.blocked {
			f := wire.StreamDataBlockedFrame{StreamID: id, Limit: s.sendFlow.limit}
			if f.Len() > w.room() {
				return
			}
			w.b = f.Append(w.b)
			elicit(frameRecord{kind: frStreamDataBlocked, id: id})
			s.sendFlow.blocked = false
		}
		s.flowQueued = false
	}
	if s.sendState != sendOpen && s.sendState != sendDataSent {
		ss.maybeForget(s)
		return
	}
	for {
		limit := s.sendFlow.limit
		if connLimit := s.send.sentTo + c.sendFlow.available(); connLimit < limit {
			limit = connLimit
		}
		if !s.send.hasData(limit) {
			if limit < s.sendFlow.limit && s.send.sentTo < s.send.written && !s.connBlocked {
				s.connBlocked = true
				c.connBlocked = append(c.connBlocked, s)
			}
			break
		}
		room := w.room() - wire.StreamOverhead(id, s.send.sentTo+uint64(w.room()), w.room(), false)
		if room <= 0 && !(s.send.fin && !s.send.finSent && room == 0) {
			return
		}
		before := s.send.sentTo
		off, n, fin, ok := s.send.nextChunk(max(room, 0), limit)
		if !ok {
			break
		}
		f := wire.StreamFrame{StreamID: id, Offset: off, Fin: fin}
		if n > 0 {
			f.Data = s.send.data.contiguous(off, n)
		}
		w.b = f.Append(w.b)
		elicit(frameRecord{kind: frStream, id: id, off: off, n: uint32(n), fin: fin})
		if grew := s.send.sentTo - before; grew > 0 {
			c.sendFlow.onSent(grew)
			s.sendFlow.onSent(grew)
			if s.sendFlow.blocked {
				s.flowQueued = true
			}
			ss.onSentData(s)
		}
	}
	if s.send.sentTo >= s.sendFlow.limit && s.send.sentTo < s.send.written {
		s.sendFlow.onSent(0)
		if s.sendFlow.blocked {
			s.flowQueued = true
		}
	}
}

// appendClosePacket writes a packet with CONNECTION_CLOSE at the highest
// level we have keys for (RFC 9000 §10.2.3).
func (c *Conn) appendClosePacket(now time.Time, p *path, out []byte, maxLen int) []byte {
	i := 0
	for j := 2; j >= 0; j-- {
		lvl, sp := sendLevel(j)
		if c.keys.write[lvl] != nil && !c.space(p, sp).discarded {
			i = j
			break
		}
	}
	lvl, sp := sendLevel(i)
	keys := c.keys.write[lvl]
	if keys == nil {
		return out
	}
	space := c.space(p, sp)
	pn := space.nextPN
	pnLen := 4
	dcid := p.remoteCIDs.current()
	var lengthOff int
	if sp == recovery.Application {
		out = wire.AppendShortHeader(out, dcid.Bytes(), pn, pnLen, c.keys.keyPhaseBit(), false)
	} else {
		h := wire.LongHeader{Type: wire.PacketInitial, Version: wire.Version1, DstCID: dcid.Bytes(), SrcCID: c.scid.Bytes()}
		if sp == recovery.Handshake {
			h.Type = wire.PacketHandshake
		}
		out, lengthOff = h.Append(out, pn, pnLen)
	}
	hdrLen := len(out)
	ci := c.closeFrame
	f := wire.ConnectionCloseFrame{Application: ci.app, Code: ci.code, FrameType: wire.FrameType(ci.frameType), Reason: []byte(ci.reason)}
	if ci.app && sp != recovery.Application {
		// Application closes before 1-RTT become APPLICATION_ERROR
		// without details (RFC 9000 §10.2.3).
		f = wire.ConnectionCloseFrame{Code: uint64(ApplicationErrorCode)}
	}
	if room := maxLen - hdrLen - aeadTagLen - 16; len(f.Reason) > 0 && f.Len() > room {
		f.Reason = f.Reason[:max(0, len(f.Reason)-(f.Len()-room))]
	}
	out = f.Append(out)
	if sp != recovery.Application {
		wire.PutVarint2(out[lengthOff:], uint64(len(out)-hdrLen+pnLen+aeadTagLen))
	}
	pkt := keys.Seal(out, hdrLen, pn)
	keys.ProtectHeader(pkt, hdrLen-pnLen)
	space.nextPN++
	return pkt
}

// maybeSendMTUProbe sends a DPLPMTUD probe (RFC 8899) when one is due,
// as a datagram of its own.
func (c *Conn) maybeSendMTUProbe(now time.Time, p *path, buf []byte, budget *int) int {
	if p.pmtud == nil || !c.confirmed || c.state != stateEstablished || *budget < p.mtu {
		return 0
	}
	size, ok := p.pmtud.Probe(now)
	if !ok || size > len(buf) {
		return 0
	}
	out := c.appendPacket(now, p, 2, buf[:0], size, size, budget, true)
	if len(out) != size {
		return 0
	}
	p.pmtud.OnProbeSent(size)
	c.pmtudDue = false
	p.bytesSent += uint64(size)
	return size
}

// ackElicitingThreshold is the ack-eliciting packets we let the peer
// receive before it must acknowledge (ACK_FREQUENCY): one ACK per ten
// packets instead of two halves the packets on the return path and the
// ACK processing of a bulk sender.
const ackElicitingThreshold = 9

// ackFreqPending reports whether our ACK_FREQUENCY frame is due: once the
// handshake is confirmed, if the peer announced min_ack_delay.
func (c *Conn) ackFreqPending() bool {
	return !c.ackFreqSent && c.confirmed && c.peerMinAckDelay > 0
}
