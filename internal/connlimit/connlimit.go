package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Refusal reasons passed to Options.OnRefuse.
const (
	ReasonTotal = "total"  // the listener holds MaxConns connections
	ReasonPerIP = "per_ip" // the client's address holds MaxConnsPerIP
)

// Options configures a Listener.
type Options struct {
	// MaxConns caps the open connections; zero or negative means no cap.
	MaxConns int
	// MaxConnsPerIP caps the open connections from one IP address; zero
	// or negative means no cap.
	MaxConnsPerIP int
	// OnRefuse, if set, is called (on the accepting goroutine, must not
	// block) for each connection closed because of a cap.
	OnRefuse func(reason string)
}

// Listener is a net.Listener that enforces Options. Safe for concurrent
// use.
type Listener struct {
	net.Listener
	opts Options

	// mu guards the following.
	mu    sync.Mutex
	open  int
	perIP map[netip.Addr]int
}

// New wraps ln.
func New(ln net.Listener, opts Options) *Listener {
	return &Listener{Listener: ln, opts: opts, perIP: map[netip.Addr]int{}}
}

// Open reports the connections currently open through the listener.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Accept returns the next connection within the caps; connections over a
// cap are closed at once and not returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := addrOf(c)
		l.mu.Lock()
		reason := ""
		switch {
		case l.opts.MaxConns > 0 && l.open >= l.opts.MaxConns:
			reason = ReasonTotal
		case l.opts.MaxConnsPerIP > 0 && l.perIP[ip] >= l.opts.MaxConnsPerIP:
			reason = ReasonPerIP
		default:
			l.open++
			l.perIP[ip]++
		}
		l.mu.Unlock()
		if reason != "" {
			c.Close()
			if l.opts.OnRefuse != nil {
				l.opts.OnRefuse(reason)
			}
			continue
		}
		return &conn{Conn: c, l: l, ip: ip}, nil
	}
}

func (l *Listener) release(ip netip.Addr) {
	l.mu.Lock()
	l.open--
	if n := l.perIP[ip] - 1; n > 0 {
		l.perIP[ip] = n
	} else {
		delete(l.perIP, ip)
	}
	l.mu.Unlock()
}

func addrOf(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// conn releases its slot once, on the first Close.
type conn struct {
	net.Conn
	l    *Listener
	ip   netip.Addr
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.ip) })
	return err
}
