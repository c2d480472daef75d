package magicsock

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

type discoVector struct {
	Name        string `json:"name"`
	SenderSeed  string `json:"sender_seed"`
	ReceiverSd  string `json:"receiver_seed"`
	SenderID    string `json:"sender_endpoint_id_hex"`
	ReceiverID  string `json:"receiver_endpoint_id_hex"`
	Plaintext   string `json:"plaintext_hex"`
	Nonce       string `json:"nonce_hex"`
	SealedBox   string `json:"sealed_box_hex"`
	UDPDatagram string `json:"udp_datagram_hex"`
	BoxKey      string `json:"box_key_hchacha20_hex"`
	SenderX     string `json:"sender_x25519_public_hex"`
}

func seedKey(t *testing.T, name string) key.SecretKey {
	var sk key.SecretKey
	switch name {
	case "all_01":
		for i := range sk {
			sk[i] = 1
		}
	case "seq_00_1f":
		for i := range sk {
			sk[i] = byte(i)
		}
	default:
		t.Fatalf("unknown seed %q", name)
	}
	return sk
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDiscoVectors(t *testing.T) {
	var v struct {
		Disco []discoVector `json:"disco_v035"`
	}
	testutil.LoadVectors(t, "core.json", &v)
	n := 0
	for _, dv := range v.Disco {
		if dv.UDPDatagram == "" {
			if dv.SenderX != "" {
				// key agreement vector: all_01 -> seq_00_1f
				sk := seedKey(t, "all_01")
				px, _ := sk.Public().X25519()
				if hex.EncodeToString(px[:]) != dv.SenderX {
					t.Errorf("x25519 public: %x want %s", px, dv.SenderX)
				}
				bk, err := sharedKey(sk, seedKey(t, "seq_00_1f").Public())
				if err != nil || hex.EncodeToString(bk[:]) != dv.BoxKey {
					t.Errorf("box key %x want %s (%v)", bk, dv.BoxKey, err)
				}
				n++
			}
			continue
		}
		t.Run(dv.Name, func(t *testing.T) {
			snd, rcv := seedKey(t, dv.SenderSeed), seedKey(t, dv.ReceiverSd)
			bk, err := sharedKey(snd, rcv.Public())
			if err != nil {
				t.Fatal(err)
			}
			var nonce [24]byte
			copy(nonce[:], unhex(t, dv.Nonce))
			pt := unhex(t, dv.Plaintext)
			m, err := parseDisco(pt)
			if err != nil {
				t.Fatal(err)
			}
			if re := appendDisco(nil, &m); !bytes.Equal(re, pt) {
				t.Errorf("re-encode plaintext %x want %x", re, pt)
			}
			got := seal(nil, &bk, snd.Public(), pt, &nonce)
			if hex.EncodeToString(got) != dv.UDPDatagram {
				t.Errorf("sealed %x\nwant %s", got, dv.UDPDatagram)
			}
			// the receiver opens it with its own view of the key
			rk, _ := sharedKey(rcv, snd.Public())
			back, err := open(unhex(t, dv.UDPDatagram), &rk)
			if err != nil || !bytes.Equal(back, pt) {
				t.Errorf("open: %x %v", back, err)
			}
			n++
		})
	}
	if n < 4 {
		t.Fatalf("only %d disco vectors asserted", n)
	}
}

func TestDiscoRejects(t *testing.T) {
	a, b := key.NewSecretKey(), key.NewSecretKey()
	k, _ := sharedKey(a, b.Public())
	msg := appendDisco(nil, &discoMsg{typ: discoPing, nodeKey: a.Public()})
	pkt := seal(nil, &k, a.Public(), msg, nil)
	for i := discoHeaderLen; i < len(pkt); i += 7 {
		bad := bytes.Clone(pkt)
		bad[i] ^= 0x40
		if _, err := open(bad, &k); err == nil {
			t.Fatalf("tampered byte %d accepted", i)
		}
	}
	other, _ := sharedKey(key.NewSecretKey(), b.Public())
	if _, err := open(bytes.Clone(pkt), &other); err == nil {
		t.Fatal("forged sender accepted")
	}
	for _, c := range []struct{ hex, want string }{
		{"0100", "ping body"}, {"0900", "unknown message type"}, {"0101", "version"},
		{"0300" + strings.Repeat("00", 17), "multiple of 18"},
		{"02000102030405060708090a0b0c07", "address kind"},
	} {
		_, err := parseDisco(unhex(t, c.hex))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.hex, err, c.want)
		}
	}
}

func FuzzParseDisco(f *testing.F) {
	f.Add(appendDisco(nil, &discoMsg{typ: discoPing}))
	f.Add(appendDisco(nil, &discoMsg{typ: discoPong, src: netip.MustParseAddrPort("1.2.3.4:5")}))
	f.Add(appendDisco(nil, &discoMsg{typ: discoPong, srcRelay: "https://r/"}))
	f.Add(appendDisco(nil, &discoMsg{typ: discoCallMeMaybe, addrs: []netip.AddrPort{netip.MustParseAddrPort("[::1]:9")}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseDisco(b)
		if err != nil {
			return
		}
		m2, err := parseDisco(appendDisco(nil, &m))
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		if m2.typ != m.typ || m2.txID != m.txID || len(m2.addrs) != len(m.addrs) {
			t.Fatal("round trip differs")
		}
	})
}

func FuzzOpenDisco(f *testing.F) {
	a, b := key.SecretKey{1}, key.SecretKey{2}
	k, _ := sharedKey(a, b.Public())
	f.Add(seal(nil, &k, a.Public(), appendDisco(nil, &discoMsg{typ: discoPing}), nil))
	f.Add([]byte("TS\xf0\x9f\x92\xac"))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if pt, err := open(pkt, &k); err == nil {
			_, _ = parseDisco(pt)
		}
	})
}
