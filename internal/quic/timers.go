package quic

import (
	"time"

	"github.com/iroh-go/iroh/internal/quic/recovery"
)

// Timeout returns when HandleTimeout must run next (or Send, for a due
// ACK or the pacer); zero when nothing is scheduled.
func (c *Conn) Timeout() time.Time {
	switch c.state {
	case stateDrained:
		return time.Time{}
	case stateClosing, stateDraining:
		return c.closeTimer
	}
	var t time.Time
	at := func(x time.Time) {
		if !x.IsZero() && (t.IsZero() || x.Before(t)) {
			t = x
		}
	}
	at(c.idleDeadline())
	p := c.paths[0]
	at(p.rec.LossDetectionTimeout())
	for i := range c.spaces {
		if !c.spaces[i].discarded && c.keys.write[i*2] != nil {
			at(c.spaces[i].acks.deadline())
		}
	}
	if c.keys.write[levelApp] != nil {
		at(p.app.acks.deadline())
	}
	at(c.paceAt)
	if c.cfg.KeepAlivePeriod > 0 && c.handshakeDone && !c.pingPending {
		at(c.lastSend.Add(c.cfg.KeepAlivePeriod)) // once due, Send owes the PING
	}
	if c.keys.prevRead != nil {
		at(c.keys.dropPrevAt)
	}
	if p.pmtud != nil && !c.pmtudDue {
		at(p.pmtud.Timeout()) // once due, Send owes the probe
	}
	return t
}

// idleDeadline is when the connection dies of silence.
func (c *Conn) idleDeadline() time.Time {
	if !c.handshakeDone {
		hs := c.startTime.Add(c.cfg.HandshakeTimeout)
		idle := c.lastRecv.Add(c.idleTimeout())
		if idle.Before(hs) {
			return idle
		}
		return hs
	}
	return c.lastRecv.Add(c.idleTimeout())
}

// HandleTimeout runs the timers due at now; the driver calls Send after.
func (c *Conn) HandleTimeout(now time.Time) {
	switch c.state {
	case stateDrained:
		return
	case stateClosing, stateDraining:
		if !now.Before(c.closeTimer) {
			c.state = stateDrained
			c.release()
		}
		return
	}
	if !now.Before(c.idleDeadline()) {
		c.finish(&IdleTimeoutError{Handshake: !c.handshakeDone})
		return
	}
	p := c.paths[0]
	if lt := p.rec.LossDetectionTimeout(); !lt.IsZero() && !now.Before(lt) {
		p.res.Reset()
		to := p.rec.HandleTimeout(now, &p.res)
		c.onLostPackets(now, p, p.res.Lost)
		if to.Probes > 0 {
			c.probes[to.ProbeSpace] += to.Probes
			c.requeueForProbe(p, to.ProbeSpace)
		}
	}
	if !c.paceAt.IsZero() && !now.Before(c.paceAt) {
		c.paceAt = time.Time{}
	}
	if c.cfg.KeepAlivePeriod > 0 && c.handshakeDone && !now.Before(c.lastSend.Add(c.cfg.KeepAlivePeriod)) {
		c.pingPending = true
	}
	if p.pmtud != nil {
		if t := p.pmtud.Timeout(); !t.IsZero() && !now.Before(t) {
			c.pmtudDue = true
		}
	}
	c.keys.dropPrev(now)
}

// requeueForProbe makes a probe carry data when there is some in flight:
// the CRYPTO data of a handshake space is sent again (RFC 9002 §6.2.4).
func (c *Conn) requeueForProbe(p *path, sp recovery.SpaceID) {
	if sp == recovery.Application {
		return
	}
	cs := &c.crypto[cryptoIndex(sp)].send
	if cs.sentTo > cs.ackedTo && cs.lost.empty() {
		cs.onLost(cs.ackedTo, int(cs.sentTo-cs.ackedTo), false)
	}
}
