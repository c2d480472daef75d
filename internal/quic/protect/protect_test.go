package protect

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/internal/quic/wire"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInitialSecretsRFC9001(t *testing.T) {
	c, s := InitialSecrets(unhex(t, rfcDCID))
	if hex.EncodeToString(c) != rfcClientSecret || hex.EncodeToString(s) != rfcServerSecret {
		t.Errorf("secrets %x %x", c, s)
	}
}

// TestClientInitialRFC9001 protects the client Initial of RFC 9001 A.2
// and compares all 1200 bytes, then opens it as the server.
func TestClientInitialRFC9001(t *testing.T) {
	dcid := unhex(t, rfcDCID)
	seal, _ := InitialKeys(dcid, true)
	pkt := append(unhex(t, rfcClientHeader), unhex(t, rfcClientPayload)...)
	pkt = append(pkt, make([]byte, 917)...)
	want := unhex(t, rfcClientProtected)
	got, err := seal.SealPacket(pkt, 18, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1200 || !bytes.Equal(got, want) {
		t.Fatalf("protected client Initial differs (len %d)\n got %x\nwant %x", len(got), got[:64], want[:64])
	}
	_, open := InitialKeys(dcid, false)
	h, err := wire.ParseHeader(got, 0)
	if err != nil {
		t.Fatal(err)
	}
	pn, payload, err := open.OpenPacket(got, h.PNOffset, wire.NoPacketNumber)
	if err != nil || pn != 2 {
		t.Fatalf("open: pn %d %v", pn, err)
	}
	if !bytes.HasPrefix(payload, unhex(t, rfcClientPayload)) || len(payload) != 1162 {
		t.Errorf("opened payload differs")
	}
	if !bytes.Equal(got[:22], unhex(t, rfcClientHeader)) {
		t.Errorf("unprotected header %x", got[:22])
	}
}

// TestServerInitialRFC9001 is A.3.
func TestServerInitialRFC9001(t *testing.T) {
	dcid := unhex(t, rfcDCID)
	seal, _ := InitialKeys(dcid, false)
	hdr := unhex(t, rfcServerHeader)
	pkt := append(hdr, unhex(t, rfcServerPayload)...)
	got, err := seal.SealPacket(pkt, len(hdr)-2, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, rfcServerProtected); !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
	_, open := InitialKeys(dcid, true)
	pn, payload, err := open.OpenPacket(got, len(hdr)-2, 0)
	if err != nil || pn != 1 || !bytes.Equal(payload, unhex(t, rfcServerPayload)) {
		t.Fatalf("open: %d %v", pn, err)
	}
}

// TestRetryRFC9001 is A.4.
func TestRetryRFC9001(t *testing.T) {
	retry := unhex(t, rfcRetry)
	tag := RetryIntegrityTag(unhex(t, rfcDCID), retry[:len(retry)-16])
	if !bytes.Equal(tag[:], retry[len(retry)-16:]) {
		t.Errorf("tag %x", tag)
	}
	if !VerifyRetry(unhex(t, rfcDCID), retry) {
		t.Error("VerifyRetry false")
	}
	if VerifyRetry([]byte{1}, retry) || VerifyRetry(nil, retry[:5]) {
		t.Error("VerifyRetry accepts a wrong ODCID or a short packet")
	}
}

// TestChaChaRFC9001 is A.5: a short header packet under
// ChaCha20-Poly1305, and its key update secret.
func TestChaChaRFC9001(t *testing.T) {
	secret := unhex(t, rfcChachaSecret)
	k, err := NewKeys(tls13.TLS_CHACHA20_POLY1305_SHA256, secret)
	if err != nil {
		t.Fatal(err)
	}
	pkt := append(unhex(t, rfcChachaHeader), unhex(t, rfcChachaPayload)...)
	got, err := k.SealPacket(pkt, 1, 3, rfcChachaPN)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, rfcChachaProtected); !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	if ku := NextSecret(tls13.TLS_CHACHA20_POLY1305_SHA256, secret); hex.EncodeToString(ku) != rfcChachaKU {
		t.Errorf("ku %x", ku)
	}
	pnLen, err := k.UnprotectHeader(got, 1)
	if err != nil || pnLen != 3 {
		t.Fatalf("unprotect: %d %v", pnLen, err)
	}
	pn := wire.DecodePacketNumber(rfcChachaPN-1, wire.ReadPacketNumber(got[1:], 3), 3)
	payload, err := k.Open(got, 4, pn)
	if err != nil || pn != rfcChachaPN || !bytes.Equal(payload, []byte{1}) {
		t.Fatalf("open: %d %x %v", pn, payload, err)
	}
}

var suites = []tls13.CipherSuite{tls13.TLS_AES_128_GCM_SHA256, tls13.TLS_AES_256_GCM_SHA384, tls13.TLS_CHACHA20_POLY1305_SHA256}

func testKeys(t testing.TB, s tls13.CipherSuite) *Keys {
	t.Helper()
	k, err := NewKeys(s, bytes.Repeat([]byte{7}, s.Hash().Size()))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// shortPacket lays out a 1-RTT packet of size bytes (tag included).
func shortPacket(size int, pn uint64) ([]byte, int) {
	dcid := make([]byte, 8)
	b := make([]byte, 0, size)
	b = wire.AppendShortHeader(b, dcid, pn, 2, true, false)
	return append(b, make([]byte, size-len(b)-TagLen)...), 1 + len(dcid)
}

func TestKeyUpdateAndTamper(t *testing.T) {
	for _, s := range suites {
		t.Run(s.String(), func(t *testing.T) {
			k := testKeys(t, s)
			k2 := k.Next()
			if k2.hp != k.hp {
				t.Error("key update changed the header key")
			}
			pkt, pnOff := shortPacket(100, 5)
			sealed, err := k2.SealPacket(pkt, pnOff, 2, 5)
			if err != nil {
				t.Fatal(err)
			}
			// The old generation fails, the new one opens.
			c := bytes.Clone(sealed)
			pnLen, _ := k.UnprotectHeader(c, pnOff)
			if _, err := k.Open(c, pnOff+pnLen, 5); !errors.Is(err, ErrDecrypt) {
				t.Errorf("old key opened a new-phase packet: %v", err)
			}
			c = bytes.Clone(sealed)
			if pn, _, err := k2.OpenPacket(c, pnOff, 4); err != nil || pn != 5 || !wire.KeyPhase(c[0]) {
				t.Errorf("open with the new key: %d %v", pn, err)
			}
			for i := range sealed {
				c = bytes.Clone(sealed)
				c[i] ^= 1
				if _, _, err := k2.OpenPacket(c, pnOff, 4); err == nil {
					t.Fatalf("flipped byte %d accepted", i)
				}
			}
			if _, _, err := k2.OpenPacket(sealed[:pnOff+10], pnOff, 4); !errors.Is(err, ErrShortPacket) {
				t.Errorf("short packet: %v", err)
			}
		})
	}
	if _, err := NewKeys(tls13.TLS_AES_128_GCM_SHA256, make([]byte, 48)); err == nil {
		t.Error("wrong secret length accepted")
	}
	if _, err := NewKeys(0x1304, make([]byte, 32)); err == nil {
		t.Error("unknown suite accepted")
	}
}

func TestNoAllocs(t *testing.T) {
	for _, s := range suites {
		k := testKeys(t, s)
		pkt, pnOff := shortPacket(1200, 9)
		buf := make([]byte, 0, 1200)
		allocs := testing.AllocsPerRun(100, func() {
			b := append(buf[:0], pkt...)
			b, _ = k.SealPacket(b, pnOff, 2, 9)
			if _, _, err := k.OpenPacket(b, pnOff, 8); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocs per seal+open", s, allocs)
		}
	}
}

func TestStatelessResetToken(t *testing.T) {
	key := []byte("static key")
	a := StatelessResetToken(key, []byte{1, 2, 3})
	if a != StatelessResetToken(key, []byte{1, 2, 3}) || a == StatelessResetToken(key, []byte{1, 2, 4}) ||
		a == StatelessResetToken([]byte("other"), []byte{1, 2, 3}) {
		t.Error("tokens are not a function of key and CID")
	}
}

func BenchmarkSealOpen(b *testing.B) {
	for _, s := range suites {
		for _, size := range []int{1200, 1452} {
			b.Run(fmt.Sprintf("%v/%d", s, size), func(b *testing.B) {
				k := testKeys(b, s)
				pkt, pnOff := shortPacket(size, 9)
				buf := make([]byte, 0, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					p := append(buf[:0], pkt...)
					p, _ = k.SealPacket(p, pnOff, 2, 9)
					if _, _, err := k.OpenPacket(p, pnOff, 8); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// FuzzOpen feeds arbitrary packets to the Initial keys: errors, never a
// panic; and a packet sealed from the fuzz payload opens to it.
func FuzzOpen(f *testing.F) {
	f.Add(unhex(f, rfcClientProtected), uint8(18))
	f.Add(unhex(f, rfcServerProtected), uint8(18))
	f.Add(unhex(f, rfcChachaProtected), uint8(1))
	dcid := unhex(f, rfcDCID)
	seal, _ := InitialKeys(dcid, true)
	_, open := InitialKeys(dcid, false)
	f.Fuzz(func(t *testing.T, b []byte, pnOff uint8) {
		_, _, _ = open.OpenPacket(bytes.Clone(b), int(pnOff), wire.NoPacketNumber)
		// Round trip: b as the payload of an Initial.
		lh := wire.LongHeader{Type: wire.PacketInitial, Version: wire.Version1, DstCID: dcid}
		pkt, lenOff := lh.Append(nil, 3, 2)
		pnOffset := lenOff + 2
		pkt = append(pkt, b...)
		// The sample needs 4 bytes of packet number and payload.
		for len(pkt)+TagLen < pnOffset+SampleOffset+SampleLen {
			pkt = append(pkt, 0)
		}
		if len(pkt)+TagLen-pnOffset >= 1<<14 {
			return
		}
		wire.PutVarint2(pkt[lenOff:], uint64(len(pkt)+TagLen-pnOffset))
		plain := bytes.Clone(pkt[pnOffset+2:])
		sealed, err := seal.SealPacket(pkt, pnOffset, 2, 3)
		if err != nil {
			t.Fatal(err)
		}
		pn, payload, err := open.OpenPacket(sealed, pnOffset, 2)
		if err != nil || pn != 3 || !bytes.Equal(payload, plain) {
			t.Fatalf("round trip: pn %d %v", pn, err)
		}
	})
}

// TestMultipathNonce checks the path ID's place in the nonce: sealing on
// path p equals sealing on path 0 with an IV whose first 4 bytes are
// xored with p (big-endian), as rustls's Nonce::for_path does.
func TestMultipathNonce(t *testing.T) {
	for _, s := range suites {
		k := testKeys(t, s)
		pkt, pnOff := shortPacket(200, 77)
		const path = 0x01020304
		a := k.SealForPath(bytes.Clone(pkt), pnOff+2, path, 77)
		shifted := *k
		shifted.iv[0] ^= 1
		shifted.iv[1] ^= 2
		shifted.iv[2] ^= 3
		shifted.iv[3] ^= 4
		if b := shifted.Seal(bytes.Clone(pkt), pnOff+2, 77); !bytes.Equal(a, b) {
			t.Errorf("%v: path ID not in the first 4 bytes of the nonce", s)
		}
		if zero := k.SealForPath(bytes.Clone(pkt), pnOff+2, 0, 77); !bytes.Equal(zero, k.Seal(bytes.Clone(pkt), pnOff+2, 77)) {
			t.Errorf("%v: path 0 differs from no multipath", s)
		}
		if _, err := k.OpenForPath(bytes.Clone(a), pnOff+2, path, 77); err != nil {
			t.Errorf("%v: open on the right path: %v", s, err)
		}
		if _, err := k.OpenForPath(bytes.Clone(a), pnOff+2, path+1, 77); err == nil {
			t.Errorf("%v: opened on the wrong path", s)
		}
		sealed, err := k.SealPacketForPath(bytes.Clone(pkt), pnOff, 2, path, 77)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := k.UnprotectHeader(sealed, pnOff); err != nil || n != 2 {
			t.Fatalf("unprotect: %d %v", n, err)
		}
		if _, err := k.OpenForPath(sealed, pnOff+2, path, 77); err != nil {
			t.Errorf("%v: SealPacketForPath does not open: %v", s, err)
		}
	}
}
