package relay

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

type coreVectors struct {
	RelayFrames struct {
		KeyUsed string `json:"key_used"`
		Frames  []struct {
			Name string `json:"name"`
			Hex  string `json:"hex"`
		} `json:"frames"`
	} `json:"relay_frames"`
	Relay struct {
		ServerChallengeFrameHex    string `json:"server_challenge_frame_hex"`
		ServerConfirmsAuthFrameHex string `json:"server_confirms_auth_frame_hex"`
		ClientAuthFrames           []struct {
			ChallengeHex   string `json:"challenge_hex"`
			Hex            string `json:"hex"`
			Len            int    `json:"len"`
			PublicKeyHex   string `json:"public_key_hex"`
			SignatureHex   string `json:"signature_hex"`
			MessageHex     string `json:"signed_message_blake3_derive_key_hex"`
			SignatureValid bool   `json:"signature_verifies"`
		} `json:"client_auth_frames"`
	} `json:"relay"`
}

func loadVectors(t testing.TB) coreVectors {
	var v coreVectors
	testutil.LoadVectors(t, "core.json", &v)
	if len(v.RelayFrames.Frames) == 0 || len(v.Relay.ClientAuthFrames) == 0 {
		t.Fatal("vectors: relay_frames or relay.client_auth_frames missing")
	}
	return v
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestFrameVectors parses every relay_frames vector, checks the decoded
// fields, and re-encodes it byte for byte.
func TestFrameVectors(t *testing.T) {
	v := loadVectors(t)
	k, err := key.ParsePublicKey(v.RelayFrames.KeyUsed)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[FrameType]bool{}
	for _, fv := range v.RelayFrames.Frames {
		t.Run(fv.Name, func(t *testing.T) {
			b := unhex(t, fv.Hex)
			f, n, err := ParseFrame(b)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if n != len(b) {
				t.Fatalf("used %d of %d bytes", n, len(b))
			}
			if name := strings.Fields(fv.Name)[0]; f.Type.String() != name {
				t.Fatalf("type %s, vector is %s", f.Type, name)
			}
			seen[f.Type] = true
			if got := AppendFrame(nil, &f); !bytes.Equal(got, b) {
				t.Fatalf("re-encoded\n %x\nwant\n %x", got, b)
			}
			if f.EncodedLen() != len(b) {
				t.Fatalf("EncodedLen %d, want %d", f.EncodedLen(), len(b))
			}
			switch f.Type {
			case FrameClientToRelayDatagram, FrameRelayToClientDatagram:
				if f.Key != k || f.ECN != 3 || f.SegmentSize != 0 || string(f.Contents) != "Hello World!" {
					t.Fatalf("fields %+v", f)
				}
			case FrameClientToRelayDatagramBatch, FrameRelayToClientDatagramBatch:
				if f.Key != k || f.ECN != 3 || f.SegmentSize != 6 || string(f.Contents) != "Hello World!" {
					t.Fatalf("fields %+v", f)
				}
			case FrameEndpointGone:
				if f.Key != k {
					t.Fatalf("key %x", f.Key)
				}
			case FramePing, FramePong:
				if f.Data != [8]byte(bytes.Repeat([]byte{0x2a}, 8)) {
					t.Fatalf("data %x", f.Data)
				}
			case FrameHealth:
				if string(f.Text) != "Hello? Yes this is dog." {
					t.Fatalf("text %q", f.Text)
				}
			case FrameRestarting:
				if f.ReconnectIn != 10 || f.TryFor != 20 {
					t.Fatalf("restarting %d %d", f.ReconnectIn, f.TryFor)
				}
			case FrameServerDeniesAuth:
				if string(f.Text) != DenyNotAuthorized {
					t.Fatalf("reason %q", f.Text)
				}
			case FrameServerChallenge:
				for i, c := range f.Challenge {
					if c != byte(i) {
						t.Fatalf("challenge %x", f.Challenge)
					}
				}
			}
		})
	}
	// Every type except ClientAuth (see TestClientAuthVectors) is covered.
	for ft := FrameServerChallenge; ft <= FrameStatus; ft++ {
		if ft != FrameClientAuth && !seen[ft] {
			t.Errorf("no vector for %s", ft)
		}
	}
	// Also the captured ServerChallenge and ServerConfirmsAuth.
	for _, h := range []string{v.Relay.ServerChallengeFrameHex, v.Relay.ServerConfirmsAuthFrameHex} {
		b := unhex(t, h)
		f, _, err := ParseFrame(b)
		if err != nil || !bytes.Equal(AppendFrame(nil, &f), b) {
			t.Errorf("captured frame %s: %v", h, err)
		}
	}
}

// TestClientAuthVectors checks the handshake frames captured from real
// iroh 1.0 clients: layout, BLAKE3 message, and signature verification.
func TestClientAuthVectors(t *testing.T) {
	v := loadVectors(t)
	for i, cv := range v.Relay.ClientAuthFrames {
		b := unhex(t, cv.Hex)
		if len(b) != cv.Len || len(b) != 98 {
			t.Fatalf("vector %d: length %d", i, len(b))
		}
		f, _, err := ParseFrame(b)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		if f.Type != FrameClientAuth || hex.EncodeToString(f.Key[:]) != cv.PublicKeyHex || hex.EncodeToString(f.Signature[:]) != cv.SignatureHex {
			t.Fatalf("vector %d: fields %+v", i, f)
		}
		if !bytes.Equal(AppendFrame(nil, &f), b) {
			t.Fatalf("vector %d: re-encoding differs", i)
		}
		ch := [ChallengeSize]byte(unhex(t, cv.ChallengeHex))
		m := ChallengeMessage(ch)
		if hex.EncodeToString(m[:]) != cv.MessageHex {
			t.Fatalf("vector %d: message %x, want %s", i, m, cv.MessageHex)
		}
		if err := VerifyClientAuth(&f, ch); (err == nil) != cv.SignatureValid {
			t.Fatalf("vector %d: verify: %v", i, err)
		}
		// A different challenge, a flipped signature bit, another key: rejected.
		ch2 := ch
		ch2[0] ^= 1
		if err := VerifyClientAuth(&f, ch2); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("vector %d: other challenge accepted: %v", i, err)
		}
		bad := f
		bad.Signature[10] ^= 0x40
		if err := VerifyClientAuth(&bad, ch); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("vector %d: flipped signature accepted", i)
		}
		bad = f
		bad.Key = key.NewSecretKey().Public()
		if err := VerifyClientAuth(&bad, ch); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("vector %d: other key accepted", i)
		}
	}
	// The second vector is secret 32×0x00 (core.md §5.5): signing reproduces it.
	sk, err := key.SecretKeyFromBytes(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	last := v.Relay.ClientAuthFrames[1]
	f := SignChallenge(sk, [ChallengeSize]byte(unhex(t, last.ChallengeHex)))
	if got := hex.EncodeToString(AppendFrame(nil, &f)); got != last.Hex {
		t.Fatalf("SignChallenge(zero key) = %s, want %s", got, last.Hex)
	}
}

func TestParseFrameErrors(t *testing.T) {
	k := key.NewSecretKey().Public()
	dgram := func(t FrameType, n int) []byte {
		b := append([]byte{byte(t)}, k[:]...)
		return append(b, make([]byte, n)...)
	}
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty message"},
		{"unknown type", []byte{14}, "unknown type"},
		{"two-byte varint type", []byte{0x40, 0x01}, "multi-byte"},
		{"challenge short", []byte{0, 1, 2}, "payload length 2, want 16"},
		{"confirms with payload", []byte{2, 0}, "payload length 1, want 0"},
		{"client auth short", []byte{1, 1}, "want 97"},
		{"client auth bad sig prefix", append(append([]byte{1}, k[:]...), make([]byte, 65)...), "signature length prefix"},
		{"denies length mismatch", []byte{3, 5, 'a'}, "reason length 5"},
		{"denies bad varint", []byte{3, 0x80}, "bad reason length"},
		{"datagram short header", []byte{4, 1, 2, 3}, "shorter than header"},
		{"batch short header", dgram(FrameClientToRelayDatagramBatch, 1)[:35], "shorter than header"},
		{"datagram too large", dgram(FrameClientToRelayDatagram, MaxPacketSize), "exceeds max 65536"},
		{"relayed too large", dgram(FrameRelayToClientDatagramBatch, MaxPacketSize), "exceeds max 65536"},
		{"endpoint gone short", []byte{8, 1}, "want 32"},
		{"ping short", []byte{9, 1, 2}, "want 8"},
		{"pong long", make([]byte, 10), ""},
		{"restarting short", []byte{12, 0, 0}, "want 8"},
		{"status empty", []byte{13}, "want 1"},
		{"health not utf8", []byte{11, 0xff}, "not UTF-8"},
	}
	cases[15].in[0] = 10
	cases[15].want = "want 8"
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, n, err := ParseFrame(c.in)
			if err == nil || n != 0 {
				t.Fatalf("ParseFrame(%x) accepted", c.in)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
	// Exactly MaxPacketSize after the type byte is allowed.
	if _, _, err := ParseFrame(dgram(FrameClientToRelayDatagram, MaxPacketSize-33)); err != nil {
		t.Fatalf("max size datagram: %v", err)
	}
}

func TestDatagramFrame(t *testing.T) {
	k := key.NewSecretKey().Public()
	if _, err := DatagramFrame(k, 0, 0, nil); !errors.Is(err, ErrEmptyDatagram) {
		t.Fatalf("empty: %v", err)
	}
	if _, err := DatagramFrame(k, 0, 0, make([]byte, MaxPacketSize-33)); err != nil {
		t.Fatalf("max single: %v", err)
	}
	if _, err := DatagramFrame(k, 0, 0, make([]byte, MaxPacketSize-32)); !errors.Is(err, ErrDatagramTooLarge) {
		t.Fatalf("too large single: %v", err)
	}
	if _, err := DatagramFrame(k, 0, 100, make([]byte, MaxPacketSize-34)); !errors.Is(err, ErrDatagramTooLarge) {
		t.Fatalf("too large batch: %v", err)
	}
	f, err := DatagramFrame(k, 0xff, 7, []byte("x"))
	if err != nil || f.Type != FrameClientToRelayDatagramBatch || f.ECN != 3 {
		t.Fatalf("batch frame %+v %v", f, err)
	}
}

func TestKeyMaterialAuth(t *testing.T) {
	sk := key.NewSecretKey()
	// A deterministic exporter stands in for both ends of one TLS session;
	// the real TLS exchange is tested in relayserver.
	secret := []byte("session secret")
	export := func(label string, ctx []byte, n int) ([]byte, error) {
		h := ChallengeMessage([16]byte(append(append([]byte(label), secret...), ctx...)[:16]))
		return h[:n], nil
	}
	a, err := NewKeyMaterialAuth(sk, export)
	if err != nil {
		t.Fatal(err)
	}
	v := a.HeaderValue()
	if len(v) != 151 {
		t.Fatalf("header value is %d chars, want 151", len(v))
	}
	b, err := ParseKeyMaterialHeader(v)
	if err != nil || b != a {
		t.Fatalf("round trip: %v", err)
	}
	if err := b.Verify(export); err != nil {
		t.Fatalf("verify: %v", err)
	}
	bad := b
	bad.Suffix[0] ^= 1
	if err := bad.Verify(export); err == nil || !strings.Contains(err.Error(), "suffix") {
		t.Fatalf("bad suffix: %v", err)
	}
	bad = b
	bad.Signature[0] ^= 1
	if err := bad.Verify(export); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("bad signature: %v", err)
	}
	for _, in := range []string{"", "!!!", v[:100], v + "AA"} {
		if _, err := ParseKeyMaterialHeader(in); err == nil {
			t.Errorf("header %q accepted", in)
		}
	}
}

func TestDialURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:3340/":        "ws://127.0.0.1:3340/relay",
		"https://relay.example.com./":   "wss://relay.example.com./relay",
		"https://relay.example.com/x?y": "wss://relay.example.com/relay",
	} {
		u, err := DialURL(in)
		if err != nil || u.String() != want {
			t.Errorf("DialURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	if _, err := DialURL("no host"); err == nil {
		t.Error("accepted a URL without host")
	}
}

func TestParseFrameAllocs(t *testing.T) {
	v := loadVectors(t)
	b := unhex(t, v.RelayFrames.Frames[1].Hex)
	buf := make([]byte, 0, 128)
	allocs := testing.AllocsPerRun(100, func() {
		f, _, _ := ParseFrame(b)
		buf = AppendFrame(buf[:0], &f)
	})
	if allocs != 0 {
		t.Fatalf("ParseFrame+AppendFrame allocate %v times", allocs)
	}
}

func FuzzParseFrame(f *testing.F) {
	v := loadVectors(f)
	for _, fv := range v.RelayFrames.Frames {
		f.Add(unhex(f, fv.Hex))
	}
	for _, cv := range v.Relay.ClientAuthFrames {
		f.Add(unhex(f, cv.Hex))
	}
	f.Add([]byte{})
	f.Add([]byte{0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := ParseFrame(b)
		if err != nil {
			return
		}
		if n != len(b) {
			t.Fatalf("used %d of %d", n, len(b))
		}
		// Round trip: parse, append, parse gives the same frame. Bytes
		// may differ only in masked ECN bits.
		enc := AppendFrame(nil, &fr)
		if len(enc) != len(b) || fr.EncodedLen() != len(b) {
			t.Fatalf("re-encoded length %d/%d, input %d", len(enc), fr.EncodedLen(), len(b))
		}
		fr2, _, err := ParseFrame(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if fr2.Type != fr.Type || fr2.Key != fr.Key || fr2.ECN != fr.ECN || fr2.SegmentSize != fr.SegmentSize ||
			!bytes.Equal(fr2.Contents, fr.Contents) || !bytes.Equal(fr2.Text, fr.Text) || fr2.Data != fr.Data ||
			fr2.Challenge != fr.Challenge || fr2.Signature != fr.Signature || fr2.Status != fr.Status ||
			fr2.ReconnectIn != fr.ReconnectIn || fr2.TryFor != fr.TryFor {
			t.Fatalf("round trip differs: %+v vs %+v", fr, fr2)
		}
		if fr.Type == FrameClientAuth {
			VerifyClientAuth(&fr, [16]byte{}) // must not panic
		}
	})
}

func FuzzParseKeyMaterialHeader(f *testing.F) {
	sk, _ := key.SecretKeyFromBytes(bytes.Repeat([]byte{7}, 32))
	a, _ := NewKeyMaterialAuth(sk, func(string, []byte, int) ([]byte, error) { return make([]byte, 32), nil })
	f.Add(a.HeaderValue())
	f.Add("")
	f.Add(strings.Repeat("A", 151))
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseKeyMaterialHeader(s)
		if err != nil {
			return
		}
		b, err := ParseKeyMaterialHeader(a.HeaderValue())
		if err != nil || b != a {
			t.Fatalf("round trip: %v", err)
		}
		a.Verify(func(string, []byte, int) ([]byte, error) { return make([]byte, 32), nil })
	})
}
