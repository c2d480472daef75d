package magicsock

import (
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
)

// maxRelaySegments bounds the datagrams taken from one relay batch frame:
// a frame of 1-byte segments would otherwise cost tens of thousands of
// deliveries on the relay's read goroutine.
const maxRelaySegments = 128

// deliverRelay handles datagrams that arrived from src through relay url.
func (c *Conn) deliverRelay(url endpointaddr.RelayURL, src key.PublicKey, segSize uint16, contents []byte) {
	if src == c.id || len(contents) == 0 {
		return
	}
	if segSize > 0 && (len(contents)+int(segSize)-1)/int(segSize) > maxRelaySegments {
		c.metrics.Dropped.WithLabelValues("relay_too_many_segments").Inc()
		return
	}
	var r *remote
	total := 0
	for len(contents) > 0 {
		seg := contents
		if segSize > 0 && int(segSize) < len(seg) {
			seg = contents[:segSize]
		}
		contents = contents[len(seg):]
		if looksLikeDisco(seg) {
			c.handleDisco(seg, pathAddr{relay: url, relayFrom: src})
			continue
		}
		if r == nil {
			if r = c.remoteForStranger(src, time.Now()); r == nil {
				return
			}
		}
		if dcid, ok := initialDCID(seg); ok {
			c.noteRelayInitial(dcid, r, time.Now())
		}
		total += len(seg)
		bp := bufPool.Get().(*[]byte)
		n := copy(*bp, seg)
		c.deliver(bp, n, r)
	}
	if r != nil {
		r.noteRecv(pathAddr{relay: url}, total)
	}
}

// relayEntry is one relay connection and when it was last used to send.
type relayEntry struct {
	rc   RelayClient
	used atomic.Int64 // UnixNano
}

// relayFor returns the client for url, dialing it on first use. The
// common case, a relay already connected, takes no lock.
func (c *Conn) relayFor(url endpointaddr.RelayURL) (RelayClient, error) {
	if v, ok := c.relays.Load(url); ok {
		e := v.(*relayEntry)
		e.used.Store(time.Now().UnixNano())
		return e.rc, nil
	}
	if c.dial == nil {
		return nil, errors.New("magicsock: relays disabled")
	}
	// dialMu serializes dials, so each URL is dialed once. The dialer
	// (the root package) takes its own locks: dialMu is taken before
	// them, and c.mu is never held here, so no lock of this package is
	// held while the dialer runs.
	c.dialMu.Lock()
	defer c.dialMu.Unlock()
	if v, ok := c.relays.Load(url); ok {
		return v.(*relayEntry).rc, nil
	}
	if c.closed.Load() {
		return nil, net.ErrClosed
	}
	rc, err := c.dial(url, func(src key.PublicKey, _ uint8, seg uint16, contents []byte) {
		c.deliverRelay(url, src, seg, contents)
	})
	if err != nil {
		return nil, err
	}
	e := &relayEntry{rc: rc}
	e.used.Store(time.Now().UnixNano())
	c.relays.Store(url, e)
	return rc, nil
}

// closeRelays closes every relay connection (Close).
func (c *Conn) closeRelays() {
	c.dialMu.Lock()
	var all []RelayClient
	c.relays.Range(func(k, v any) bool {
		all = append(all, v.(*relayEntry).rc)
		c.relays.Delete(k)
		return true
	})
	c.dialMu.Unlock()
	for _, rc := range all {
		rc.Close()
	}
}

// sendRelay sends b to dst through relay url.
func (c *Conn) sendRelay(b []byte, url endpointaddr.RelayURL, dst key.PublicKey) error {
	rc, err := c.relayFor(url)
	if err != nil {
		return err
	}
	err = rc.Send(dst, 0, 0, b)
	if err == nil {
		c.metrics.SentBytes.WithLabelValues("relay").Add(float64(len(b)))
	}
	return err
}

// SetHomeRelay makes url the relay this endpoint stays connected to and
// advertises ("" for none), connecting to it at once.
func (c *Conn) SetHomeRelay(url endpointaddr.RelayURL) {
	old := c.HomeRelay()
	if old == url {
		return
	}
	c.home.Store(&url)
	if old != "" {
		// Peers learned the old home relay from our address and keep
		// using it for a while: keep the connection for the idle timeout.
		if v, ok := c.relays.Load(old); ok {
			v.(*relayEntry).used.Store(time.Now().UnixNano())
		}
	}
	if url != "" && c.dial != nil {
		if _, err := c.relayFor(url); err != nil {
			c.log.Warn("home relay", "relay_url", url, "err", err)
		}
	}
	if old != "" {
		c.log.Info("home relay changed", "relay_url", url, "old", old)
	}
}

// relayIdleTimeout closes a connection to a relay other than the home relay
// after this long without sending through it, as Rust iroh does; the home
// relay connection is never idled out.
const relayIdleTimeout = 60 * time.Second

// pruneRelays closes idle connections to relays other than the home relay.
func (c *Conn) pruneRelays(now time.Time) {
	home := c.HomeRelay()
	var idle []RelayClient
	c.dialMu.Lock()
	c.relays.Range(func(k, v any) bool {
		url, e := k.(endpointaddr.RelayURL), v.(*relayEntry)
		if url == home || now.UnixNano()-e.used.Load() < int64(relayIdleTimeout) {
			return true
		}
		idle = append(idle, e.rc)
		c.relays.Delete(url)
		c.log.Debug("closing idle relay connection", "relay_url", url)
		return true
	})
	c.dialMu.Unlock()
	for _, rc := range idle {
		rc.Close()
	}
}
