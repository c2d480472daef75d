package pkarrlookup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/pkarr"
)

// N0RelayURL is the pkarr relay run by n0 next to its DNS server.
const N0RelayURL = "https://dns.iroh.link/pkarr"

// defaultTimeout bounds one HTTP request when the caller's context has no
// deadline and the default client is used.
const defaultTimeout = 30 * time.Second

// PublisherOptions configures a Publisher.
type PublisherOptions struct {
	// RelayURL is the base URL of the pkarr relay, such as
	// "http://127.0.0.1:8080/pkarr"; the z32 key is appended as a path
	// segment. Required.
	RelayURL string
	// Client sends the requests; nil means a client with a 30 s timeout.
	Client *http.Client
	// PublishDirect also publishes direct addresses. False (the zero
	// value, iroh's default) publishes relay URLs and user data only.
	PublishDirect bool
	// TTL is the record TTL when EndpointInfo.TTL is zero; zero means
	// pkarr.DefaultTTL (30 s).
	TTL time.Duration
	// Logger receives debug logs; nil means slog.Default().
	Logger *slog.Logger
}

// ResolverOptions configures a Resolver.
type ResolverOptions struct {
	// RelayURL is the base URL of the pkarr relay. Required.
	RelayURL string
	// Client sends the requests; nil means a client with a 30 s timeout.
	Client *http.Client
}

// N0PublisherOptions returns options publishing to n0's public relay.
func N0PublisherOptions() PublisherOptions { return PublisherOptions{RelayURL: N0RelayURL} }

// N0ResolverOptions returns options resolving from n0's public relay.
func N0ResolverOptions() ResolverOptions { return ResolverOptions{RelayURL: N0RelayURL} }

func checkBase(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("pkarrlookup: relay url %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("pkarrlookup: relay url %q: want an http or https URL with a host", s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// Publisher publishes endpoint info to a pkarr relay.
type Publisher struct {
	// Set in NewPublisher, then read-only.
	sk     key.SecretKey
	id     key.PublicKey
	base   string
	client *http.Client
	opts   PublisherOptions
	log    *slog.Logger
}

// NewPublisher returns a publisher signing with sk.
func NewPublisher(sk key.SecretKey, opts *PublisherOptions) (*Publisher, error) {
	if opts == nil {
		return nil, errors.New("pkarrlookup: PublisherOptions with a RelayURL required")
	}
	o := *opts
	base, err := checkBase(o.RelayURL)
	if err != nil {
		return nil, err
	}
	if o.TTL < 0 {
		return nil, errors.New("pkarrlookup: negative TTL")
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: defaultTimeout}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Publisher{sk: sk, id: sk.Public(), base: base, client: o.Client, opts: o,
		log: o.Logger.With("component", "pkarrlookup")}, nil
}

// Packet returns the signed packet Publish would send for info (direct
// addresses filtered per the options), timestamped now.
func (p *Publisher) Packet(info addrlookup.EndpointInfo) (pkarr.SignedPacket, error) {
	if !info.ID.IsZero() && info.ID != p.id {
		return pkarr.SignedPacket{}, fmt.Errorf("pkarrlookup: publish info of %s with the key of %s", info.ID.ShortString(), p.id.ShortString())
	}
	if !p.opts.PublishDirect {
		info.Direct = nil
	}
	ttl := info.TTL
	if ttl == 0 {
		ttl = p.opts.TTL
	}
	return pkarr.SignInfo(p.sk, info.PkarrInfo(), 0, uint32(ttl/time.Second))
}

// Publish signs info and PUTs it to the relay. Any status but 2xx is an
// error quoting the relay's answer.
func (p *Publisher) Publish(ctx context.Context, info addrlookup.EndpointInfo) error {
	pkt, err := p.Packet(info)
	if err != nil {
		return err
	}
	u := p.base + "/" + p.id.Z32()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(pkt.AppendRelayPayload(nil)))
	if err != nil {
		return fmt.Errorf("pkarrlookup: publish: %w", err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("pkarrlookup: publish to %s: %w", p.base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("pkarrlookup: publish to %s: status %d: %s", p.base, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	p.log.Debug("published", "endpoint_id", p.id.ShortString(), "relay", p.base, "bytes", pkt.Len())
	return nil
}

// Resolver resolves endpoint info from a pkarr relay.
type Resolver struct {
	base   string
	client *http.Client
}

// NewResolver returns a resolver for the relay of opts.
func NewResolver(opts *ResolverOptions) (*Resolver, error) {
	if opts == nil {
		return nil, errors.New("pkarrlookup: ResolverOptions with a RelayURL required")
	}
	base, err := checkBase(opts.RelayURL)
	if err != nil {
		return nil, err
	}
	c := opts.Client
	if c == nil {
		c = &http.Client{Timeout: defaultTimeout}
	}
	return &Resolver{base: base, client: c}, nil
}

// Resolve GETs the packet of id from the relay, verifies it with id and
// returns its records. A 404 is reported as addrlookup.ErrNotFound.
func (r *Resolver) Resolve(ctx context.Context, id key.PublicKey) (addrlookup.EndpointInfo, error) {
	u := r.base + "/" + id.Z32()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return addrlookup.EndpointInfo{}, fmt.Errorf("pkarrlookup: resolve: %w", err)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return addrlookup.EndpointInfo{}, fmt.Errorf("pkarrlookup: resolve %s from %s: %w", id.ShortString(), r.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return addrlookup.EndpointInfo{}, fmt.Errorf("pkarrlookup: resolve %s from %s: %w", id.ShortString(), r.base, addrlookup.ErrNotFound)
	}
	if resp.StatusCode/100 != 2 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return addrlookup.EndpointInfo{}, fmt.Errorf("pkarrlookup: resolve %s from %s: status %d: %s", id.ShortString(), r.base, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, pkarr.MaxPacketSize+1))
	if err != nil {
		return addrlookup.EndpointInfo{}, fmt.Errorf("pkarrlookup: resolve %s: read: %w", id.ShortString(), err)
	}
	pkt, err := pkarr.ParseRelayPayload(id, body)
	if err != nil {
		return addrlookup.EndpointInfo{}, fmt.Errorf("pkarrlookup: resolve %s from %s: %w", id.ShortString(), r.base, err)
	}
	info, ttl, err := pkt.Info()
	if err != nil {
		if errors.Is(err, pkarr.ErrNoRecords) {
			err = fmt.Errorf("%w (%w)", err, addrlookup.ErrNotFound)
		}
		return addrlookup.EndpointInfo{}, fmt.Errorf("pkarrlookup: resolve %s: %w", id.ShortString(), err)
	}
	return addrlookup.InfoFromPkarr(id, info, ttl), nil
}
