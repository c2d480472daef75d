package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
)

// endpointFlags are the flags shared by commands that run an endpoint.
type endpointFlags struct {
	keyFile string
	verbose bool
	bind4   string
	bind6   string
	relays  stringList
	alpn    string

	pkarrRelay  string
	publishIPs  bool
	dnsResolver string
	dnsOrigin   string
	mdns        bool
	relayOnly   bool
	offline     bool
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func (f *endpointFlags) register(fs *flag.FlagSet, defaultALPN string) {
	fs.StringVar(&f.keyFile, "key", "", "secret key file (hex), made by 'iroh key generate --out FILE'. Default: $IROH_SECRET, else a new key")
	fs.BoolVar(&f.verbose, "v", false, "debug logs and path changes on stderr")
	fs.StringVar(&f.bind4, "bind4", "0.0.0.0:0", "IPv4 UDP address to bind (\"\" disables IPv4)")
	fs.StringVar(&f.bind6, "bind6", "[::]:0", "IPv6 UDP address to bind (\"\" disables IPv6)")
	fs.Var(&f.relays, "relay", "relay URL (repeatable; the lowest latency becomes the home relay); 'none' for no relay. Default: n0's public relays")
	if defaultALPN != "" {
		fs.StringVar(&f.alpn, "alpn", defaultALPN, "application protocol (ALPN) to speak")
	}
	fs.BoolVar(&f.offline, "offline", false, "use none of n0's services: no relay and no address lookup but those given with --relay, --pkarr-relay, --dns-*, --mdns (LAN, tests)")
	fs.StringVar(&f.pkarrRelay, "pkarr-relay", "", "pkarr relay URL to publish our address to and resolve ids from, instead of n0's (e.g. http://127.0.0.1:8080/pkarr)")
	fs.BoolVar(&f.publishIPs, "publish-ips", false, "publish direct addresses too, not only the relay URL")
	fs.StringVar(&f.dnsResolver, "dns-resolver", "", "DNS server HOST:PORT to resolve endpoint ids with (needs --dns-origin). Default: the system's")
	fs.StringVar(&f.dnsOrigin, "dns-origin", "", "DNS origin under which ids are resolved, instead of n0's dns.iroh.link (e.g. irohdns.example.)")
	fs.BoolVar(&f.mdns, "mdns", false, "publish and resolve endpoints on the local network with mDNS")
	fs.BoolVar(&f.relayOnly, "relay-only", false, "never use direct paths: everything goes through the relay")
}

// logger returns the logger for the command: warnings only, or debug
// with -v.
func (f *endpointFlags) logger(w io.Writer) *slog.Logger {
	lvl := slog.LevelWarn
	if f.verbose {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// secretKey loads the key from --key, $IROH_SECRET, or makes a new one.
func (f *endpointFlags) secretKey(env *cmdEnv, log *slog.Logger) (key.SecretKey, error) {
	if f.keyFile != "" {
		return loadKey(f.keyFile)
	}
	if s := env.getenv("IROH_SECRET"); s != "" {
		sk, err := key.ParseSecretKey(strings.TrimSpace(s))
		if err != nil {
			return sk, fmt.Errorf("IROH_SECRET: %w", err)
		}
		return sk, nil
	}
	return key.NewSecretKey(), nil
}

// loadKey reads a hex secret key file. A missing file is an error that
// says how to make one: commands never create keys by surprise.
func loadKey(path string) (key.SecretKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return key.SecretKey{}, fmt.Errorf("key file %s does not exist (make one with 'iroh key generate --out %s')", path, path)
	}
	if err != nil {
		return key.SecretKey{}, fmt.Errorf("read key file: %w", err)
	}
	sk, err := key.ParseSecretKey(strings.TrimSpace(string(b)))
	if err != nil {
		return sk, fmt.Errorf("key file %s: %w", path, err)
	}
	return sk, nil
}

func writeKeyFile(path string, sk key.SecretKey) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.WriteString(sk.HexString() + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("write key file: %w", err)
	}
	return f.Close()
}

// options builds endpoint options from the flags.
func (f *endpointFlags) options(env *cmdEnv, alpns []string) (*iroh.Options, error) {
	log := f.logger(env.stderr)
	sk, err := f.secretKey(env, log)
	if err != nil {
		return nil, err
	}
	o := &iroh.Options{SecretKey: sk, ALPNs: alpns, Logger: log, RelayOnly: f.relayOnly}
	if f.bind4 == "" {
		o.DisableIPv4 = true
	} else if o.BindAddrV4, err = netip.ParseAddrPort(f.bind4); err != nil || !o.BindAddrV4.Addr().Is4() {
		return nil, usageError("--bind4 %q: want an IPv4 HOST:PORT", f.bind4)
	}
	if f.bind6 == "" {
		o.DisableIPv6 = true
	} else if o.BindAddrV6, err = netip.ParseAddrPort(f.bind6); err != nil || o.BindAddrV6.Addr().Is4() {
		return nil, usageError("--bind6 %q: want an IPv6 [HOST]:PORT", f.bind6)
	}
	o.AddressLookup = iroh.AddressLookupOptions{
		PkarrRelay:    f.pkarrRelay,
		PkarrResolve:  f.pkarrRelay != "",
		PublishDirect: f.publishIPs,
		DNSOrigin:     f.dnsOrigin,
		DNSResolver:   f.dnsResolver,
		MDNS:          f.mdns,
		Logger:        log,
	}
	if f.dnsResolver != "" && f.dnsOrigin == "" {
		return nil, usageError("--dns-resolver needs --dns-origin")
	}
	customLookup := f.pkarrRelay != "" || f.dnsOrigin != ""
	if !f.offline && !customLookup {
		// n0's DNS origin and pkarr relay, as dumbpipe and sendme use.
		n0 := iroh.N0Options().AddressLookup
		o.AddressLookup.PkarrRelay, o.AddressLookup.PkarrResolve, o.AddressLookup.DNSOrigin = n0.PkarrRelay, n0.PkarrResolve, n0.DNSOrigin
	}
	none := slices.Contains(f.relays, "none")
	switch {
	case none && len(f.relays) > 1:
		return nil, usageError("--relay none cannot be combined with relay URLs")
	case none:
	case len(f.relays) == 0 && !f.offline:
		o.Relays = iroh.N0Options().Relays
	default:
		for _, r := range f.relays {
			u, err := endpointaddr.ParseRelayURL(r)
			if err != nil {
				return nil, usageError("--relay: %v", err)
			}
			o.Relays = append(o.Relays, u)
		}
	}
	if f.relayOnly && len(o.Relays) == 0 {
		return nil, usageError("--relay-only needs a relay: give --relay URL, or drop --offline and --relay none")
	}
	if optionsHook != nil {
		optionsHook(o)
	}
	return o, nil
}

// optionsHook, when set by a test, sees every Options a command builds
// before it binds (the guard that tests reach only loopback).
var optionsHook func(*iroh.Options)

// bind binds an endpoint from the flags.
func (f *endpointFlags) bind(ctx context.Context, env *cmdEnv, alpns []string) (*iroh.Endpoint, error) {
	o, err := f.options(env, alpns)
	if err != nil {
		return nil, err
	}
	return bindWith(ctx, o)
}

// bindWith binds an endpoint with options built from flags.
func bindWith(ctx context.Context, o *iroh.Options) (*iroh.Endpoint, error) {
	return iroh.Bind(ctx, o)
}

// RelayURL is the relay URL type, for the commands' maps.
type RelayURL = iroh.RelayURL

// watchPaths prints the path changes to the remote id on w until ctx
// ends (-v). Started before Connect, it shows the whole story.
func watchPaths(ctx context.Context, ep *iroh.Endpoint, id key.PublicKey, w io.Writer) {
	ch, stop := ep.SubscribePaths(id)
	defer stop()
	last := ""
	show := func(p iroh.PathInfo) {
		if d := describePath(p); d != last && p.Kind != iroh.PathNone {
			fmt.Fprintf(w, "path: %s\n", d)
			last = d
		}
	}
	p, _ := ep.PathsTo(id)
	show(p)
	for {
		select {
		case ev := <-ch:
			show(ev.New)
		case <-ctx.Done():
			return
		}
	}
}

func describePath(p iroh.PathInfo) string {
	switch p.Kind {
	case iroh.PathDirect:
		return fmt.Sprintf("direct %s rtt %s", p.Addr, p.RTT)
	case iroh.PathRelay:
		return fmt.Sprintf("relay %s rtt %s", p.RelayURL, p.RTT)
	case iroh.PathMixed:
		if p.RelayURL != "" {
			return fmt.Sprintf("relay %s while probing direct addresses", p.RelayURL)
		}
		return "probing direct addresses"
	}
	return "none"
}
