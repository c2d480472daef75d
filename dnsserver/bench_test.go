package dnsserver

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/pkarr"
	"github.com/miekg/dns"
)

// BenchmarkQueryUDP measures one `_iroh` TXT query answered from the
// store over loopback UDP (query, store read, signature check, answer).
func BenchmarkQueryUDP(b *testing.B) {
	s, err := New(&Options{DNSAddr: "127.0.0.1:0", DataDir: b.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sk := key.NewSecretKey()
	p, _ := pkarr.SignInfo(sk, pkarr.Info{RelayURLs: []string{"https://relay.example.org./"}, UserData: "x"}, 0, 0)
	if _, err := s.store.put(p); err != nil {
		b.Fatal(err)
	}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	co, err := c.Dial(s.DNSAddr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer co.Close()
	m := new(dns.Msg)
	m.SetQuestion("_iroh."+sk.Public().Z32()+"."+DefaultOrigin, dns.TypeTXT)
	b.ReportAllocs()
	for b.Loop() {
		resp, _, err := c.ExchangeWithConn(m, co)
		if err != nil || len(resp.Answer) != 2 {
			b.Fatalf("%v %v", err, resp)
		}
	}
}
