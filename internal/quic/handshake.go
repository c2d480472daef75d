package quic

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/iroh-go/iroh/internal/quic/protect"
	"github.com/iroh-go/iroh/internal/quic/recovery"
	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/quic/wire"
)

// Datagram errors.
var (
	// ErrDatagramsDisabled: we or the peer do not accept datagrams.
	ErrDatagramsDisabled = errors.New("quic: datagrams not supported by the peer or disabled")
	// ErrDatagramTooLarge: the datagram does not fit in one packet or
	// exceeds the peer's max_datagram_frame_size.
	ErrDatagramTooLarge = errors.New("quic: datagram too large")
)

// ourParams are the transport parameters we send: what Rust iroh sends
// (core.md §6.3) with our windows.
func (c *Conn) ourParams() wire.TransportParameters {
	p := wire.NewTransportParameters()
	cfg := &c.cfg
	p.MaxIdleTimeout = uint64(cfg.MaxIdleTimeout / time.Millisecond)
	p.MaxUDPPayloadSize = uint64(max(cfg.MaxUDPPayloadSize, initialMTU))
	p.InitialMaxData = cfg.InitialConnWindow
	p.InitialMaxStreamDataBidiLocal = cfg.InitialStreamWindow
	p.InitialMaxStreamDataBidiRemote = cfg.InitialStreamWindow
	p.InitialMaxStreamDataUni = cfg.InitialStreamWindow
	p.InitialMaxStreamsBidi = cfg.MaxIncomingStreams
	p.InitialMaxStreamsUni = cfg.MaxIncomingUniStreams
	p.MaxAckDelay = uint64(DefaultMaxAckDelay / time.Millisecond)
	p.ActiveConnectionIDLimit = cfg.ActiveConnectionIDLimit
	scid := c.paths[0].localCIDs.active[0].id
	p.InitialSourceCID = &scid
	if !cfg.DisableDatagrams {
		p.MaxDatagramFrameSize = cfg.MaxDatagramFrameSize
	}
	p.HasMinAckDelay = true
	p.MinAckDelay = uint64(DefaultMinAckDelay / time.Microsecond)
	if c.server {
		odcid := c.origDCID
		p.OriginalDestinationCID = &odcid
		tok := [wire.ResetTokenLen]byte(c.paths[0].localCIDs.active[0].token)
		p.StatelessResetToken = &tok
		if c.retrySCID.Len() > 0 {
			r := c.retrySCID
			p.RetrySourceCID = &r
		}
	}
	return p
}

// startTLS creates the TLS side with our transport parameters and, for a
// client, writes the ClientHello.
func (c *Conn) startTLS() error {
	tp := c.ourParams()
	tcfg := c.cfg.TLS
	tcfg.TransportParameters = tp.AppendRandomized(nil, rand.New(rand.NewPCG(c.randUint64(), c.randUint64())))
	if tcfg.Rand == nil {
		tcfg.Rand = c.rand
	}
	if c.server {
		c.tls = tls13.Server(&tcfg)
	} else {
		c.tls = tls13.Client(&tcfg)
	}
	if c.initialDCID.Len() == 0 {
		c.initialDCID = c.origDCID
	}
	c.installInitialKeys(c.initialDCID)
	if err := c.tls.Start(); err != nil {
		return err
	}
	if terr := c.processTLS(); terr != nil {
		return terr
	}
	return nil
}

// installInitialKeys derives the Initial keys from dcid (again after a
// Retry).
func (c *Conn) installInitialKeys(dcid ConnectionID) {
	seal, open := protect.InitialKeys(dcid.Bytes(), !c.server)
	c.keys.read[levelInitial], c.keys.write[levelInitial] = open, seal
}

// tlsLevel maps a packet number space to the TLS level of its CRYPTO
// data.
func tlsLevel(sp recovery.SpaceID) tls13.Level {
	switch sp {
	case recovery.Initial:
		return tls13.LevelInitial
	case recovery.Handshake:
		return tls13.LevelHandshake
	}
	return tls13.LevelApplication
}

// keyLevel maps a TLS level to our key index.
func keyLevel(l tls13.Level) int {
	switch l {
	case tls13.LevelInitial:
		return levelInitial
	case tls13.LevelEarly:
		return levelEarly
	case tls13.LevelHandshake:
		return levelHandshake
	}
	return levelApp
}

// tlsError turns a handshake failure into the CRYPTO_ERROR to send.
func tlsError(err error) *TransportError {
	var ae *tls13.AlertError
	if errors.As(err, &ae) {
		return &TransportError{Code: TransportErrorCode(ae.QUICCode()), Reason: ae.Error()}
	}
	return errf(InternalError, "tls: %v", err)
}

// processTLS drains the TLS events: handshake bytes to CRYPTO streams,
// secrets to packet keys, the peer's transport parameters, completion.
func (c *Conn) processTLS() *TransportError {
	for {
		e := c.tls.NextEvent()
		switch e.Kind {
		case tls13.EventNone:
			return nil
		case tls13.EventWriteData:
			c.crypto[cryptoIndexOfLevel(e.Level)].send.write(e.Data)
		case tls13.EventSetReadSecret, tls13.EventSetWriteSecret:
			pk, err := protect.NewKeys(e.Suite, e.Data)
			if err != nil {
				return errf(InternalError, "packet keys: %v", err)
			}
			lvl := keyLevel(e.Level)
			read := e.Kind == tls13.EventSetReadSecret
			switch {
			case lvl == levelEarly && !read:
				c.keys.write[levelEarly] = pk
				if terr := c.applyRememberedParams(); terr != nil {
					c.keys.write[levelEarly] = nil
				}
			case lvl == levelApp && read:
				c.keys.installAppRead(pk)
			case lvl == levelApp:
				c.keys.installAppWrite(pk)
			case read:
				c.keys.read[lvl] = pk
			default:
				c.keys.write[lvl] = pk
			}
		case tls13.EventPeerTransportParameters:
			if err := c.applyPeerParams(e.Data); err != nil {
				return err
			}
		case tls13.EventHandshakeDone:
			c.onHandshakeComplete()
		case tls13.EventEarlyDataRejected:
			if !c.server {
				c.onEarlyDataRejected()
			}
		case tls13.EventEarlyDataAccepted, tls13.EventSessionTicketStored:
		}
	}
}

func cryptoIndexOfLevel(l tls13.Level) int {
	switch l {
	case tls13.LevelInitial:
		return 0
	case tls13.LevelHandshake:
		return 1
	}
	return 2
}

// applyPeerParams decodes and applies the peer's transport parameters.
func (c *Conn) applyPeerParams(b []byte) *TransportError {
	tp, err := wire.ParseTransportParameters(b, !c.server)
	if err != nil {
		return errf(TransportParameterError, "%v", err)
	}
	// Authenticate the connection ids (RFC 9000 §7.3).
	p0 := c.paths[0]
	if tp.InitialSourceCID == nil || *tp.InitialSourceCID != p0.remoteCIDs.current() {
		return errf(TransportParameterError, "initial_source_connection_id does not match the peer's source id")
	}
	if !c.server {
		if tp.OriginalDestinationCID == nil || *tp.OriginalDestinationCID != c.origDCID {
			return errf(TransportParameterError, "original_destination_connection_id does not match")
		}
		if (tp.RetrySourceCID != nil) != (c.retrySCID.Len() > 0) || tp.RetrySourceCID != nil && *tp.RetrySourceCID != c.retrySCID {
			return errf(TransportParameterError, "retry_source_connection_id does not match")
		}
		if tp.StatelessResetToken != nil {
			p0.remoteCIDs.setInitialToken(ResetToken(*tp.StatelessResetToken))
		}
	}
	c.peerParamsSet = true
	c.peerIdle = time.Duration(tp.MaxIdleTimeout) * time.Millisecond
	c.peerMaxAckDelay = time.Duration(tp.MaxAckDelay) * time.Millisecond
	c.peerAckExponent = uint8(tp.AckDelayExponent)
	c.peerMaxDatagram = tp.MaxDatagramFrameSize
	c.peerMaxUDP = tp.MaxUDPPayloadSize
	if tp.HasMinAckDelay {
		c.peerMinAckDelay = time.Duration(tp.MinAckDelay) * time.Microsecond
	}
	c.peerMultipath = tp.HasInitialMaxPathID
	p0.rec.SetMaxAckDelay(c.peerMaxAckDelay)
	p0.localCIDs.limit = tp.ActiveConnectionIDLimit
	c.sendFlow.raise(tp.InitialMaxData)
	ss := c.streams
	ss.params.peerBidiLocal = tp.InitialMaxStreamDataBidiLocal
	ss.params.peerBidiRemote = tp.InitialMaxStreamDataBidiRemote
	ss.params.peerUni = tp.InitialMaxStreamDataUni
	ss.localBidi.raise(tp.InitialMaxStreamsBidi)
	ss.localUni.raise(tp.InitialMaxStreamsUni)
	return nil
}

// applyRememberedParams applies the server's transport parameters from
// the session we resume, so that 0-RTT data respects its limits (RFC 9000
// §7.4.1).
func (c *Conn) applyRememberedParams() *TransportError {
	s := c.tls.EarlySession()
	if s == nil {
		return errf(InternalError, "0-RTT keys without a session")
	}
	tp, err := wire.ParseTransportParameters(s.TransportParameters, true)
	if err != nil {
		return errf(TransportParameterError, "remembered parameters: %v", err)
	}
	c.sendFlow.raise(tp.InitialMaxData)
	ss := c.streams
	ss.params.peerBidiLocal = tp.InitialMaxStreamDataBidiLocal
	ss.params.peerBidiRemote = tp.InitialMaxStreamDataBidiRemote
	ss.params.peerUni = tp.InitialMaxStreamDataUni
	ss.localBidi.raise(tp.InitialMaxStreamsBidi)
	ss.localUni.raise(tp.InitialMaxStreamsUni)
	c.peerMaxDatagram = tp.MaxDatagramFrameSize
	c.earlyData = true
	return nil
}

// ZeroRTT reports whether the client may send 0-RTT data now: it resumes
// a session that allows it and the handshake has not completed.
func (c *Conn) ZeroRTT() bool { return c.keys.write[levelEarly] != nil }

// EarlyDataAccepted reports whether the server accepted our 0-RTT data
// (known once the handshake completes).
func (c *Conn) EarlyDataAccepted() bool { return c.tls.EarlyDataAccepted() }

// onEarlyDataRejected: the server ignored our 0-RTT packets, so every
// stream byte sent in them goes again at 1-RTT.
func (c *Conn) onEarlyDataRejected() {
	c.keys.write[levelEarly] = nil
	for _, s := range c.streams.m {
		if s.send.sentTo > s.send.ackedTo && s.sendState <= sendDataSent {
			s.send.onLost(s.send.ackedTo, int(s.send.sentTo-s.send.ackedTo), s.send.finSent)
			c.streams.queueSend(s)
		}
	}
}

// onHandshakeComplete runs when TLS finishes: the server confirms the
// handshake at once and sends HANDSHAKE_DONE (RFC 9001 §4.1.2).
func (c *Conn) onHandshakeComplete() {
	c.handshakeDone = true
	if !c.server {
		c.keys.write[levelEarly] = nil // 1-RTT from now on
	} else if c.cfg.TLS.TicketKeys != nil {
		c.tls.SendSessionTicket() // its WriteData is drained by processTLS's loop
	}
	c.state = stateEstablished
	c.paths[0].localCIDs.fill(c.cfg.CIDs)
	c.emit(Event{Kind: EventHandshakeDone})
	if c.server {
		c.handshakeDoneQueued = true
		c.confirm(c.lastRecv)
	}
}

// confirm records handshake confirmation: the Handshake keys go.
func (c *Conn) confirm(now time.Time) {
	if c.confirmed {
		return
	}
	c.confirmed = true
	p := c.paths[0]
	p.rec.ConfirmHandshake()
	c.discardSpace(recovery.Handshake)
	// Path MTU discovery up to the smaller of both sides' limits.
	if maxSize := min(uint64(c.cfg.MaxUDPPayloadSize), c.peerMaxUDP); c.cfg.MaxUDPPayloadSize > 0 && maxSize > initialMTU {
		p.pmtud, _ = recovery.NewPMTUD(&recovery.PMTUDOptions{Base: initialMTU, Max: int(maxSize)})
	}
}

// discardSpace drops the keys and state of the Initial or Handshake
// space (RFC 9001 §4.9).
func (c *Conn) discardSpace(sp recovery.SpaceID) {
	s := &c.spaces[sp]
	if s.discarded {
		return
	}
	s.discarded = true
	p0 := c.paths[0]
	p0.res.Reset()
	p0.rec.Discard(sp, &p0.res)
	for i := range p0.res.Lost {
		c.frames.take(p0.res.Lost[i].Token)
	}
	lvl := levelInitial
	if sp == recovery.Handshake {
		lvl = levelHandshake
	}
	c.keys.read[lvl], c.keys.write[lvl] = nil, nil
	c.crypto[sp].discard()
}

// pto is path 0's probe timeout.
func (c *Conn) pto() time.Duration {
	p := c.paths[0]
	mad := time.Duration(0)
	if c.confirmed {
		mad = c.peerMaxAckDelay
	}
	return p.rec.RTT().PTO(mad)
}
