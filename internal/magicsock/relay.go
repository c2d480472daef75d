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
			r = c.remoteFor(src)
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

// relayFor returns the client for url, dialing it on first use.
func (c *Conn) relayFor(url endpointaddr.RelayURL) (RelayClient, error) {
	if c.dial == nil {
		return nil, errors.New("magicsock: relays disabled")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc, ok := c.relays[url]; ok {
		if u := c.relayUse[url]; u != nil {
			u.Store(time.Now().UnixNano())
		}
		return rc, nil
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
	c.relays[url] = rc
	if c.relayUse == nil {
		c.relayUse = map[endpointaddr.RelayURL]*atomic.Int64{}
	}
	used := new(atomic.Int64)
	used.Store(time.Now().UnixNano())
	c.relayUse[url] = used
	return rc, nil
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
		c.mu.Lock()
		if u := c.relayUse[old]; u != nil {
			u.Store(time.Now().UnixNano())
		}
		c.mu.Unlock()
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
	c.mu.Lock()
	for url, rc := range c.relays {
		u := c.relayUse[url]
		if url == home || u == nil || now.UnixNano()-u.Load() < int64(relayIdleTimeout) {
			continue
		}
		idle = append(idle, rc)
		delete(c.relays, url)
		delete(c.relayUse, url)
		c.log.Debug("closing idle relay connection", "relay_url", url)
	}
	c.mu.Unlock()
	for _, rc := range idle {
		rc.Close()
	}
}
