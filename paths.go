package iroh

import (
	"net/netip"
	"sync"
	"time"

	"github.com/iroh-go/iroh/internal/magicsock"
)

// PathKind says how packets of a connection travel.
type PathKind int

// Path kinds.
const (
	// PathNone: no path is known yet (the remote was never contacted).
	PathNone PathKind = iota
	// PathDirect: UDP straight to the remote's address.
	PathDirect
	// PathRelay: through a relay server.
	PathRelay
	// PathMixed: the direct path is not confirmed yet, so packets go both
	// over the relay and to the direct candidates.
	PathMixed
)

// String returns "none", "direct", "relay" or "mixed".
func (k PathKind) String() string { return magicsock.PathKind(k).String() }

// PathInfo describes the path packets to a remote take now.
type PathInfo struct {
	Kind PathKind
	// Addr is the remote's address on a direct path (PathDirect).
	Addr netip.AddrPort
	// RelayURL is the relay in use (PathRelay, PathMixed).
	RelayURL RelayURL
	// RTT is the latest probe round trip on that path; 0 if unknown.
	RTT time.Duration
}

// PathChanged is sent to subscribers when the path to a remote changes.
type PathChanged struct {
	Remote EndpointID
	Old    PathInfo
	New    PathInfo
	Time   time.Time
}

// CandidateInfo is one known direct address of a remote.
type CandidateInfo struct {
	Addr netip.AddrPort
	// RTT is the latest probe round trip to Addr; 0 if it never answered.
	RTT time.Duration
	// LastPong is when Addr last answered a probe; zero if never.
	LastPong time.Time
}

func pathInfo(p magicsock.PathInfo) PathInfo {
	return PathInfo{Kind: PathKind(p.Kind), Addr: p.Addr, RelayURL: p.RelayURL, RTT: p.RTT}
}

// subscribePaths relays the socket's path events for id as PathChanged on
// a channel of 16; a goroutine, owned by the endpoint, converts them until
// the returned stop is called or the endpoint closes, and then closes the
// channel. A slow reader loses events.
func (ep *Endpoint) subscribePaths(id EndpointID) (<-chan PathChanged, func()) {
	out := make(chan PathChanged, 16)
	ep.mu.Lock()
	if ep.closed {
		ep.mu.Unlock()
		close(out)
		return out, func() {}
	}
	ep.wg.Add(1) // under mu: Close waits for wg only after it set closed
	ep.mu.Unlock()
	src, stopSrc := ep.sock.SubscribePaths(id, 16)
	done := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(done) }) }
	go func() {
		defer ep.wg.Done()
		defer close(out)
		defer stopSrc()
		for {
			select {
			case ev := <-src:
				select {
				case out <- PathChanged{Remote: ev.Remote, Old: pathInfo(ev.Old), New: pathInfo(ev.New), Time: ev.Time}:
				default:
				}
			case <-done:
				return
			case <-ep.ctx.Done():
				return
			}
		}
	}()
	return out, stop
}
