package relayserver_test

import (
	"encoding/binary"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay"
	"github.com/iroh-go/iroh/relay/relaytest"
)

// BenchmarkForward measures one sender → relay → one receiver over
// loopback with 1200-byte datagrams (a QUIC packet) and at most 256 in
// flight, beside a plain TCP stream carrying the same messages as baseline.
func BenchmarkForward(b *testing.B) {
	const size, window = 1200, 256
	b.Run("relay", func(b *testing.B) {
		r := relaytest.Start(b, nil)
		var got atomic.Int64
		recvKey := key.NewSecretKey()
		rc, err := relay.NewClient(relay.ClientOptions{URL: r.URL, SecretKey: recvKey, Logger: discard(),
			OnDatagrams: func(key.PublicKey, uint8, uint16, []byte) { got.Add(1) }})
		if err != nil {
			b.Fatal(err)
		}
		defer rc.Close()
		sc, err := relay.NewClient(relay.ClientOptions{URL: r.URL, SecretKey: key.NewSecretKey(), Logger: discard()})
		if err != nil {
			b.Fatal(err)
		}
		defer sc.Close()
		if err := rc.WaitConnected(b.Context()); err != nil {
			b.Fatal(err)
		}
		if err := sc.WaitConnected(b.Context()); err != nil {
			b.Fatal(err)
		}
		payload := make([]byte, size)
		dst := recvKey.Public()
		b.ReportAllocs()
		b.SetBytes(size)
		start := time.Now()
		sent := int64(0)
		for b.Loop() {
			for sent-got.Load() >= window {
				time.Sleep(20 * time.Microsecond)
			}
			sc.Send(dst, 0, 0, payload)
			sent++
		}
		deadline := time.Now().Add(5 * time.Second)
		for got.Load() < sent && time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond)
		}
		el := time.Since(start).Seconds()
		b.ReportMetric(float64(got.Load())/el, "datagrams/s")
		b.ReportMetric(float64(got.Load())*size/el/1e6, "MB/s")
		b.ReportMetric(float64(sent-got.Load())/float64(max(sent, 1)), "drops/op")
	})
	b.Run("tcp-baseline", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		var got atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, size+2)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				got.Add(1)
			}
		}()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		msg := make([]byte, size+2)
		binary.BigEndian.PutUint16(msg, size)
		b.ReportAllocs()
		b.SetBytes(size)
		start := time.Now()
		n := int64(0)
		for b.Loop() {
			c.Write(msg)
			n++
		}
		for got.Load() < n {
			time.Sleep(100 * time.Microsecond)
		}
		el := time.Since(start).Seconds()
		c.Close()
		<-done
		b.ReportMetric(float64(n)/el, "datagrams/s")
		b.ReportMetric(float64(n)*size/el/1e6, "MB/s")
	})
}
