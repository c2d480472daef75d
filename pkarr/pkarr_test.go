package pkarr

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
	"github.com/miekg/dns"
)

type pkarrVector struct {
	EndpointIDHex   string   `json:"endpoint_id_hex"`
	Z32             string   `json:"z32"`
	DNSName         string   `json:"dns_name_under_origin"`
	TXTStrings      []string `json:"txt_strings"`
	TTL             uint32   `json:"ttl"`
	TimestampMicros string   `json:"timestamp_micros"`
	DNSPacketHex    string   `json:"dns_packet_hex"`
	SignablePrefix  string   `json:"signable_prefix_ascii"`
	SignatureHex    string   `json:"signature_hex"`
	SignedPacketHex string   `json:"signed_packet_hex"`
	PutBodyHex      string   `json:"http_put_body_hex"`
	PutPath         string   `json:"http_put_path"`
}

func loadVectors(t testing.TB) []pkarrVector {
	t.Helper()
	var v struct {
		Pkarr []pkarrVector `json:"pkarr"`
	}
	testutil.LoadVectors(t, "core.json", &v)
	if len(v.Pkarr) == 0 {
		t.Fatal("no pkarr vectors")
	}
	return v.Pkarr
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vectorInfo turns the vector's TXT strings into an Info, failing on any
// attribute it does not know so the vector is fully covered.
func vectorInfo(t *testing.T, strs []string) Info {
	t.Helper()
	var info Info
	for _, s := range strs {
		k, v, _ := strings.Cut(s, "=")
		switch k {
		case AttrRelay:
			info.RelayURLs = append(info.RelayURLs, v)
		case AttrAddr:
			info.Addrs = append(info.Addrs, netip.MustParseAddrPort(v))
		case AttrUserData:
			info.UserData = v
		default:
			t.Fatalf("vector has unknown attribute %q", k)
		}
	}
	return info
}

func TestVectorBuild(t *testing.T) {
	for i, v := range loadVectors(t) {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			sk := key.SecretKey{} // the vector's secret is 32×0x00
			id := sk.Public()
			if id.String() != v.EndpointIDHex || id.Z32() != v.Z32 {
				t.Fatalf("key mismatch: %s %s", id, id.Z32())
			}
			info := vectorInfo(t, v.TXTStrings)
			strs, err := info.TXTStrings()
			if err != nil || !reflect.DeepEqual(strs, v.TXTStrings) {
				t.Fatalf("TXTStrings = %q, %v; want %q", strs, err, v.TXTStrings)
			}
			msg, err := info.AppendDNS(nil, id, v.TTL)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := hex.EncodeToString(msg), v.DNSPacketHex; got != want {
				t.Fatalf("DNS message\n got %s\nwant %s", got, want)
			}
			ts, _ := strconv.ParseUint(v.TimestampMicros, 10, 64)
			sig := Signable(ts, msg)
			if !bytes.HasPrefix(sig, []byte(v.SignablePrefix)) || len(sig) != len(v.SignablePrefix)+len(msg) {
				t.Fatalf("signable prefix %q, want %q", sig[:len(sig)-len(msg)], v.SignablePrefix)
			}
			p, err := SignInfo(sk, info, ts, v.TTL)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(p.Signature[:]); got != v.SignatureHex {
				t.Fatalf("signature %s, want %s", got, v.SignatureHex)
			}
			if got := hex.EncodeToString(p.AppendBytes(nil)); got != v.SignedPacketHex {
				t.Fatalf("signed packet\n got %s\nwant %s", got, v.SignedPacketHex)
			}
			if got := hex.EncodeToString(p.AppendRelayPayload(nil)); got != v.PutBodyHex {
				t.Fatalf("PUT body\n got %s\nwant %s", got, v.PutBodyHex)
			}
			if p.Len() != len(v.SignedPacketHex)/2 {
				t.Fatalf("Len %d", p.Len())
			}
			if "/pkarr/"+id.Z32() != v.PutPath {
				t.Fatalf("put path %q", v.PutPath)
			}
		})
	}
}

func TestVectorParse(t *testing.T) {
	for i, v := range loadVectors(t) {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			p, err := ParseSignedPacket(unhex(t, v.SignedPacketHex))
			if err != nil {
				t.Fatal(err)
			}
			if p.Key.String() != v.EndpointIDHex || strconv.FormatUint(p.Timestamp, 10) != v.TimestampMicros {
				t.Fatalf("parsed key %s ts %d", p.Key, p.Timestamp)
			}
			q, err := ParseRelayPayload(p.Key, unhex(t, v.PutBodyHex))
			if err != nil || !reflect.DeepEqual(p, q) {
				t.Fatalf("relay payload: %v %+v", err, q)
			}
			info, ttl, err := p.Info()
			if err != nil {
				t.Fatal(err)
			}
			if ttl != time.Duration(v.TTL)*time.Second {
				t.Fatalf("ttl %v", ttl)
			}
			if want := vectorInfo(t, v.TXTStrings); !reflect.DeepEqual(info, want) {
				t.Fatalf("info %+v, want %+v", info, want)
			}
			// The same records, rooted under an origin as DNS serves them.
			var m dns.Msg
			if err := m.Unpack(p.DNS); err != nil {
				t.Fatal(err)
			}
			for _, rr := range m.Answer {
				rr.Header().Name = v.DNSName
			}
			info2, _, err := InfoFromRecords(p.Key, m.Answer)
			if err != nil || !reflect.DeepEqual(info2, info) {
				t.Fatalf("rooted: %v %+v", err, info2)
			}
			// The records are not for another key.
			other := key.NewSecretKey().Public()
			if _, _, err := InfoFromRecords(other, m.Answer); !errors.Is(err, ErrNoRecords) {
				t.Fatalf("other key: %v", err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	sk := key.NewSecretKey()
	p, err := SignInfo(sk, Info{RelayURLs: []string{"https://r.example./"}, UserData: "x"}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	good := p.AppendBytes(nil)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	badKey := bytes.Clone(good)
	copy(badKey, bytes.Repeat([]byte{0xff}, 32)) // not a curve point? checked below
	other, _ := SignInfo(key.NewSecretKey(), Info{UserData: "y"}, 0, 0)
	swapped := append(other.Key.Bytes(), good[32:]...)
	big := make([]byte, MaxPacketSize+1)
	copy(big, good)
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, nil},
		{"truncated header", good[:HeaderSize-1], nil},
		{"truncated dns", good[:len(good)-3], key.ErrBadSignature},
		{"flipped signature", flip(40), key.ErrBadSignature},
		{"flipped timestamp", flip(HeaderSize - 1), key.ErrBadSignature},
		{"flipped dns", flip(len(good) - 1), key.ErrBadSignature},
		{"other key", swapped, key.ErrBadSignature},
		{"oversized", big, ErrTooLarge},
	}
	if !(key.PublicKey)(badKey[:32]).Valid() {
		cases = append(cases, struct {
			name string
			in   []byte
			want error
		}{"invalid key", badKey, key.ErrInvalidPoint})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSignedPacket(c.in)
			if err == nil {
				t.Fatal("parsed")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), "offset") {
				t.Fatalf("error does not say where: %v", err)
			}
		})
	}
	// A well-signed packet whose DNS message does not parse.
	junk := []byte{1, 2, 3}
	sp := SignedPacket{Key: sk.Public(), Timestamp: 5, DNS: junk}
	sp.Signature = sk.Sign(Signable(5, junk))
	if _, err := ParseSignedPacket(sp.AppendBytes(nil)); err == nil || !strings.Contains(err.Error(), "DNS") {
		t.Fatalf("junk DNS: %v", err)
	}
	if _, err := Sign(sk, 1, junk); err == nil {
		t.Fatal("signed junk DNS")
	}
	if _, err := Sign(sk, 1, make([]byte, MaxDNSSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized sign: %v", err)
	}
}

func TestBuildLimits(t *testing.T) {
	sk := key.NewSecretKey()
	if _, err := SignInfo(sk, Info{UserData: strings.Repeat("u", MaxUserDataSize+1)}, 0, 0); err == nil {
		t.Fatal("user data over limit accepted")
	}
	if _, err := SignInfo(sk, Info{UserData: strings.Repeat("u", MaxUserDataSize)}, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := SignInfo(sk, Info{RelayURLs: []string{"https://" + strings.Repeat("a", 250) + "/"}}, 0, 0); err == nil {
		t.Fatal("relay URL over 249 bytes accepted")
	}
	var many Info
	for i := range 60 {
		many.Addrs = append(many.Addrs, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 4433))
	}
	if _, err := SignInfo(sk, many, 0, 0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized message: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	sk := key.NewSecretKey()
	cases := map[string]Info{
		"empty":  {},
		"relay":  {RelayURLs: []string{"https://relay.example.org./", "http://localhost:3340/"}},
		"direct": {Addrs: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("[::1]:2")}},
		"all": {RelayURLs: []string{"https://a.b/"}, Addrs: []netip.AddrPort{netip.MustParseAddrPort("[fe80::1%eth0]:3")},
			UserData: "hi \"there\" \\ \x01 ü"},
	}
	for name, info := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := SignInfo(sk, info, 0, 77)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParseSignedPacket(p.AppendBytes(nil))
			if err != nil {
				t.Fatal(err)
			}
			got, ttl, err := q.Info()
			if len(info.RelayURLs)+len(info.Addrs) == 0 && info.UserData == "" {
				if !errors.Is(err, ErrNoRecords) {
					t.Fatalf("empty: %v", err)
				}
				return
			}
			if err != nil || ttl != 77*time.Second {
				t.Fatalf("%v %v", err, ttl)
			}
			want := info
			for i, a := range want.Addrs {
				want.Addrs[i] = netip.AddrPortFrom(a.Addr().WithZone(""), a.Port())
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseTXTStrings(t *testing.T) {
	cases := []struct {
		name string
		in   []string
		want Info
		err  bool
	}{
		{"unknown key rejects all", []string{"relay=https://a/", "foo=bar"}, Info{}, true},
		{"bad url skipped", []string{"relay=not a url", "relay=https://a/"}, Info{RelayURLs: []string{"https://a/"}}, false},
		{"custom addr skipped", []string{"addr=1_a1b2", "addr=1.2.3.4:5"}, Info{Addrs: []netip.AddrPort{netip.MustParseAddrPort("1.2.3.4:5")}}, false},
		{"space separated addr skipped", []string{"addr=1.2.3.4:5 1.2.3.4:6"}, Info{}, false},
		{"second = drops rest", []string{"user-data=a=b"}, Info{UserData: "a"}, false},
		{"first user data wins", []string{"user-data=a", "user-data=b"}, Info{UserData: "a"}, false},
		{"no = rejects all", []string{"relay=https://a/", "relay"}, Info{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseTXTStrings(c.in)
			if (err != nil) != c.err {
				t.Fatalf("err %v", err)
			}
			if !c.err && !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v want %+v", got, c.want)
			}
		})
	}
}

func TestMoreRecentThan(t *testing.T) {
	a := SignedPacket{Timestamp: 10, DNS: []byte{1, 2}}
	b := SignedPacket{Timestamp: 11, DNS: []byte{0}}
	c := SignedPacket{Timestamp: 10, DNS: []byte{1, 3}}
	if !b.MoreRecentThan(a) || a.MoreRecentThan(b) {
		t.Fatal("timestamp order")
	}
	if !c.MoreRecentThan(a) || a.MoreRecentThan(c) {
		t.Fatal("equal timestamps: larger DNS wins")
	}
	if a.MoreRecentThan(a) {
		t.Fatal("packet more recent than itself")
	}
}

func TestNowStrictlyIncreasing(t *testing.T) {
	var wg sync.WaitGroup
	res := make([][]uint64, 4)
	for g := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				res[g] = append(res[g], Now())
			}
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, r := range res {
		for i, v := range r {
			if i > 0 && v <= r[i-1] {
				t.Fatalf("not increasing: %d after %d", v, r[i-1])
			}
			if seen[v] {
				t.Fatalf("duplicate timestamp %d", v)
			}
			seen[v] = true
		}
	}
	if d := time.Since(time.UnixMicro(int64(Now()))); d < -time.Second || d > time.Second {
		t.Fatalf("Now is %v off the wall clock", d)
	}
}

// FuzzSignedPacket checks that parsing arbitrary bytes never panics, that
// accepted packets re-encode to the same bytes and that their records parse
// (or fail) without panicking.
func FuzzSignedPacket(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(unhex(f, v.SignedPacketHex))
	}
	sk := key.NewSecretKey()
	p, _ := SignInfo(sk, Info{RelayURLs: []string{"https://r/"}, Addrs: []netip.AddrPort{netip.MustParseAddrPort("[::1]:9")}}, 0, 0)
	f.Add(p.AppendBytes(nil))
	f.Add(p.AppendBytes(nil)[:HeaderSize])
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseSignedPacket(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.AppendBytes(nil), b) {
			t.Fatal("re-encoding differs")
		}
		q, err := ParseRelayPayload(p.Key, p.AppendRelayPayload(nil))
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("relay payload round trip: %v", err)
		}
		_, _, _ = p.Info()
	})
}

// FuzzParseInfo feeds arbitrary DNS messages to the TXT record reader and
// checks that what it accepts survives an encode/parse round trip.
func FuzzParseInfo(f *testing.F) {
	var id key.PublicKey
	for _, v := range loadVectors(f) {
		f.Add(unhex(f, v.DNSPacketHex))
		id = key.SecretKey{}.Public()
	}
	msg, _ := Info{RelayURLs: []string{"http://x:1/"}, UserData: "a=b"}.AppendDNS(nil, id, 0)
	f.Add(msg)
	f.Fuzz(func(t *testing.T, b []byte) {
		info, _, err := ParseInfo(id, b)
		if err != nil {
			return
		}
		// Keep only what the encoder can carry, then round trip.
		var clean Info
		for _, u := range info.RelayURLs {
			if !strings.Contains(u, "=") {
				clean.RelayURLs = append(clean.RelayURLs, u)
			}
		}
		clean.Addrs = info.Addrs
		if !strings.Contains(info.UserData, "=") {
			clean.UserData = info.UserData
		}
		enc, err := clean.AppendDNS(nil, id, 0)
		if err != nil {
			return // too large or too long a string: fine
		}
		got, _, err := ParseInfo(id, enc)
		if err != nil {
			if len(clean.RelayURLs)+len(clean.Addrs) == 0 && clean.UserData == "" {
				return
			}
			t.Fatalf("re-parse: %v", err)
		}
		for i, a := range clean.Addrs {
			clean.Addrs[i] = netip.AddrPortFrom(a.Addr().WithZone(""), a.Port())
		}
		if !reflect.DeepEqual(got, clean) {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, clean)
		}
	})
}
