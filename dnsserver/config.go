package dnsserver

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Config is the TOML configuration file of `iroh dns-server --config`,
// shaped like iroh-dns-server's (a subset: no HTTPS, no mainline):
//
//	data_dir = "/var/lib/iroh-dns"
//	pkarr_put_rate_limit = "simple"   # or "smart", "disabled"
//	trusted_proxies = ["127.0.0.1/32"] # smart mode: whose forwarding headers count
//
//	[http]
//	bind_addr = "127.0.0.1"
//	port = 8080
//
//	[dns]
//	bind_addr = "127.0.0.1"
//	port = 5300
//	origins = ["irohdns.example.", "."]
//	default_soa = "ns1.irohdns.example. hostmaster.irohdns.example. 0 10800 3600 604800 3600"
//	rr_a = "203.0.10.10"
//	rr_aaaa = "2001:db8::10"
//	rr_ns = "ns1.irohdns.example."
//
//	[metrics]
//	bind_addr = "127.0.0.1"
//	port = 9117
//	disabled = false
//
// A missing section disables that listener (metrics: serves on the
// default 127.0.0.1:9117 unless disabled). Unknown keys are an error.
type Config struct {
	DataDir           string         `toml:"data_dir"`
	PkarrPutRateLimit string         `toml:"pkarr_put_rate_limit"`
	TrustedProxies    []string       `toml:"trusted_proxies"`
	HTTP              *ListenConfig  `toml:"http"`
	DNS               *DNSConfig     `toml:"dns"`
	Metrics           *MetricsConfig `toml:"metrics"`
}

// ListenConfig is an IP and port; an empty bind_addr means 0.0.0.0.
type ListenConfig struct {
	BindAddr string `toml:"bind_addr"`
	Port     int    `toml:"port"`
}

// DNSConfig is the [dns] section.
type DNSConfig struct {
	ListenConfig
	Origins    []string `toml:"origins"`
	DefaultSOA string   `toml:"default_soa"`
	RRA        string   `toml:"rr_a"`
	RRAAAA     string   `toml:"rr_aaaa"`
	RRNS       string   `toml:"rr_ns"`
}

// MetricsConfig is the [metrics] section.
type MetricsConfig struct {
	ListenConfig
	Disabled bool `toml:"disabled"`
}

// DefaultMetricsAddr is where metrics are served unless configured
// otherwise, as iroh-dns-server does.
const DefaultMetricsAddr = "127.0.0.1:9117"

// LoadConfig reads and checks a TOML configuration file.
func LoadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("dnsserver: config: %w", err)
	}
	return ParseConfig(string(b))
}

// ParseConfig parses TOML configuration text.
func ParseConfig(text string) (Config, error) {
	var c Config
	md, err := toml.Decode(text, &c)
	if err != nil {
		return Config{}, fmt.Errorf("dnsserver: config: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("dnsserver: config: unknown keys: %s", strings.Join(keys, ", "))
	}
	return c, nil
}

func (l ListenConfig) addr() (string, error) {
	host := l.BindAddr
	if host == "" {
		host = "0.0.0.0"
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return "", fmt.Errorf("bind_addr %q: %w", host, err)
	}
	if l.Port < 0 || l.Port > 65535 {
		return "", fmt.Errorf("port %d out of range", l.Port)
	}
	return net.JoinHostPort(host, strconv.Itoa(l.Port)), nil
}

// Options turns the configuration into server Options (without Logger and
// Metrics) and the metrics listen address ("" when disabled).
func (c Config) Options() (Options, string, error) {
	var o Options
	o.DataDir = c.DataDir
	mode, err := ParseRateLimitMode(c.PkarrPutRateLimit)
	if err != nil {
		return o, "", err
	}
	o.RateLimit.Mode = mode
	for _, tp := range c.TrustedProxies {
		pr, err := netip.ParsePrefix(tp)
		if err != nil {
			a, aerr := netip.ParseAddr(tp)
			if aerr != nil {
				return o, "", fmt.Errorf("dnsserver: config trusted_proxies: %q is neither an address nor a prefix", tp)
			}
			pr = netip.PrefixFrom(a, a.BitLen())
		}
		o.TrustedProxies = append(o.TrustedProxies, pr)
	}
	if c.HTTP != nil {
		if o.HTTPAddr, err = c.HTTP.addr(); err != nil {
			return o, "", fmt.Errorf("dnsserver: config [http]: %w", err)
		}
	}
	if c.DNS != nil {
		if o.DNSAddr, err = c.DNS.addr(); err != nil {
			return o, "", fmt.Errorf("dnsserver: config [dns]: %w", err)
		}
		o.Origins = c.DNS.Origins
		o.SOA = c.DNS.DefaultSOA
		if c.DNS.RRNS != "" {
			o.NS = []string{c.DNS.RRNS}
		}
		for _, s := range []string{c.DNS.RRA, c.DNS.RRAAAA} {
			if s == "" {
				continue
			}
			a, err := netip.ParseAddr(s)
			if err != nil {
				return o, "", fmt.Errorf("dnsserver: config [dns]: %w", err)
			}
			o.Addrs = append(o.Addrs, a)
		}
	}
	metrics := DefaultMetricsAddr
	if c.Metrics != nil {
		if c.Metrics.Disabled {
			metrics = ""
		} else if metrics, err = c.Metrics.addr(); err != nil {
			return o, "", fmt.Errorf("dnsserver: config [metrics]: %w", err)
		}
	}
	// Validate the rest now, so a bad file fails before anything binds.
	if _, _, err := o.fill(); err != nil {
		return o, "", err
	}
	return o, metrics, nil
}
