package dnsserver

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/pkarr"
	"github.com/miekg/dns"
	bolt "go.etcd.io/bbolt"
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

// BenchmarkPutConcurrent measures pkarr PUTs over loopback HTTP from 8
// concurrent clients (rate limit off) into a store that already holds
// 100,000 records, the size at which PUT throughput used to fall; each op
// is one PUT of a packet signed before the measurement. Run with -benchtime to compare sizes: the rate should not depend
// on how many records are stored.
func BenchmarkPutConcurrent(b *testing.B) {
	for _, syncPuts := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync=%v", syncPuts), func(b *testing.B) { benchPutConcurrent(b, syncPuts) })
	}
}

func benchPutConcurrent(b *testing.B, syncPuts bool) {
	s, err := New(&Options{HTTPAddr: "127.0.0.1:0", DataDir: b.TempDir(), RateLimit: RateLimit{Mode: RateLimitDisabled},
		SyncPuts: syncPuts, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	records := 100_000
	if v, err := strconv.Atoi(os.Getenv("IROH_DNS_BENCH_RECORDS")); err == nil {
		records = v // to compare sizes: the rate should not depend on it
	}
	prefill(b, s, records)
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.SetParallelism(4) // 8 clients on 2 cores
	// Packets are signed before the clock starts (signing would otherwise
	// take a quarter of the shared CPU): each client gets its own key and
	// a supply of packets with increasing timestamps, signed on the fly
	// only if the supply runs out.
	const perClient = 4000
	var supplies sync.Map // client index -> []body
	var nextClient atomic.Int32
	type supply struct {
		sk     key.SecretKey
		bodies [][]byte
	}
	for i := range 8 {
		sk := key.NewSecretKey()
		ts := uint64(time.Now().UnixMicro())
		sp := &supply{sk: sk}
		for j := range perClient {
			p, _ := pkarr.SignInfo(sk, pkarr.Info{RelayURLs: []string{"https://relay.example.org./"}}, ts+uint64(j), 0)
			sp.bodies = append(sp.bodies, p.AppendRelayPayload(nil))
		}
		supplies.Store(int32(i), sp)
	}
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		v, _ := supplies.Load(nextClient.Add(1) - 1)
		sp, _ := v.(*supply)
		if sp == nil {
			sp = &supply{sk: key.NewSecretKey()}
		}
		url := s.PkarrURL() + "/" + sp.sk.Public().Z32()
		for i := 0; pb.Next(); i++ {
			var body []byte
			if i < len(sp.bodies) {
				body = sp.bodies[i]
			} else {
				p, _ := pkarr.SignInfo(sp.sk, pkarr.Info{RelayURLs: []string{"https://relay.example.org./"}}, 0, 0)
				body = p.AppendRelayPayload(nil)
			}
			req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				b.Errorf("PUT: %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "puts/s")
	b.ReportMetric(float64(s.store.count()), "records")
}

// prefill writes n records straight into the store (one transaction), with
// distinct keys and a valid packet's bytes as value.
func prefill(b *testing.B, s *Server, n int) {
	b.Helper()
	p, _ := pkarr.SignInfo(key.NewSecretKey(), pkarr.Info{UserData: "prefill"}, 0, 0)
	val := p.AppendBytes(nil)
	err := s.store.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketPackets)
		var k [key.Size]byte
		for i := range n {
			binary.BigEndian.PutUint64(k[:], uint64(i))
			if err := bk.Put(append([]byte(nil), k[:]...), val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	s.store.n.Add(int64(n))
}
