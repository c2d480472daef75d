package iroh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/internal/magicsock"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay"
)

// relayState holds the endpoint's relay configuration and clients.
type relayState struct {
	log     *slog.Logger
	relays  []RelayURL
	token   string
	opts    *Options
	metrics *relay.Metrics

	mu      sync.Mutex
	clients map[RelayURL]*relay.Client
}

func newRelayState(o *Options, log *slog.Logger) (*relayState, error) {
	rs := &relayState{log: log, opts: o, token: o.RelayToken, clients: map[RelayURL]*relay.Client{}}
	for _, r := range o.Relays {
		u, err := endpointaddr.ParseRelayURL(string(r))
		if err != nil {
			return nil, err
		}
		rs.relays = append(rs.relays, u)
	}
	rs.metrics = relay.NewMetrics(o.Registerer)
	return rs, nil
}

// configure fills the socket options: the home relay and the dialer that
// opens relay clients on demand (for the home relay and for the relays
// that peers advertise).
func (rs *relayState) configure(o *magicsock.Options, sk SecretKey) {
	if len(rs.relays) > 0 {
		o.HomeRelay = rs.relays[0]
	}
	o.DialRelay = func(url endpointaddr.RelayURL, deliver func(src key.PublicKey, ecn uint8, seg uint16, contents []byte)) (magicsock.RelayClient, error) {
		c, err := relay.NewClient(relay.ClientOptions{
			URL:         string(url),
			SecretKey:   sk,
			Token:       rs.token,
			TLSConfig:   rs.opts.RelayTLSConfig,
			Logger:      rs.opts.Logger,
			Metrics:     rs.metrics,
			OnDatagrams: deliver,
		})
		if err != nil {
			return nil, err
		}
		rs.mu.Lock()
		rs.clients[url] = c
		rs.mu.Unlock()
		return &relayClient{c: c, rs: rs, url: url}, nil
	}
}

// relayClient forgets the client in relayState when the socket closes it.
type relayClient struct {
	c   *relay.Client
	rs  *relayState
	url RelayURL
}

func (r *relayClient) Send(dst key.PublicKey, ecn uint8, seg uint16, contents []byte) error {
	return r.c.Send(dst, ecn, seg, contents)
}

func (r *relayClient) Close() error {
	r.rs.mu.Lock()
	if r.rs.clients[r.url] == r.c { // not a newer client for the same URL
		delete(r.rs.clients, r.url)
	}
	r.rs.mu.Unlock()
	return r.c.Close()
}

func (rs *relayState) client(url RelayURL) *relay.Client {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.clients[url]
}

// flush waits (bounded by ctx) until every relay client wrote what was
// queued so far.
func (rs *relayState) flush(ctx context.Context) {
	rs.mu.Lock()
	clients := make([]*relay.Client, 0, len(rs.clients))
	for _, c := range rs.clients {
		clients = append(clients, c)
	}
	rs.mu.Unlock()
	for _, c := range clients {
		c.Flush(ctx)
	}
}

// close closes the relay clients the socket did not close (it closes
// those it dialed when it closes; this catches any left behind) and
// reports how many there were.
func (rs *relayState) close() int {
	rs.mu.Lock()
	left := make([]*relay.Client, 0, len(rs.clients))
	for url, c := range rs.clients {
		left = append(left, c)
		delete(rs.clients, url)
	}
	rs.mu.Unlock()
	for _, c := range left {
		c.Close()
	}
	return len(left)
}

// ErrNoRelay is returned by Online for an endpoint without relays.
var ErrNoRelay = errors.New("iroh: no relay configured")

// Online waits until the endpoint is connected to its home relay, so that
// peers can reach it through the relay in its Addr. When ctx ends first, it
// returns why the last connection attempt failed if one did (such as a
// refused connection), else the context's error.
func (ep *Endpoint) Online(ctx context.Context) error {
	home := ep.sock.HomeRelay()
	if home == "" {
		return ErrNoRelay
	}
	c := ep.relay.client(home)
	if c == nil {
		return ErrNoRelay
	}
	err := c.WaitConnected(ctx)
	if err != nil && ctx.Err() != nil {
		if last := c.State().LastError; last != nil {
			return fmt.Errorf("iroh: home relay %s: %w", home, last)
		}
	}
	return err
}

// HomeRelay returns the URL of the home relay, or "" if there is none.
func (ep *Endpoint) HomeRelay() RelayURL { return ep.sock.HomeRelay() }
