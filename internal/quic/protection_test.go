package quic

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestInitialKeysRFC9001 checks the Initial keys of RFC 9001 Appendix A.1.
func TestInitialKeysRFC9001(t *testing.T) {
	dcid, _ := hex.DecodeString("8394c8f03e515708")
	client, server := newInitialKeys(dcid)
	ck, sk := client.(*aeadKeys), server.(*aeadKeys)
	for _, c := range []struct {
		name string
		got  []byte
		want string
	}{
		{"client iv", ck.iv[:], "fa044b2f42a3fd3b46fb255c"},
		{"client hp", ck.hpKey, "9f50449e04a0e810283a1e9933adedd2"},
		{"server iv", sk.iv[:], "0ac1493ca1905853b0bba03e"},
		{"server hp", sk.hpKey, "c206b8d9b9f0f37644430b490eeaa314"},
	} {
		if hex.EncodeToString(c.got) != c.want {
			t.Errorf("%s = %x, want %s", c.name, c.got, c.want)
		}
	}
	// A sealed, header-protected packet opens again.
	pkt := append([]byte{0xc3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2}, bytes.Repeat([]byte{7}, 40)...)
	pkt = append(pkt, make([]byte, 16)...)[:len(pkt)]
	orig := bytes.Clone(pkt)
	sealed := client.seal(pkt, 13, 2)
	client.protectHeader(sealed, 9, 4)
	recv := bytes.Clone(sealed)
	pnLen, err := server.(*aeadKeys).unprotectHeaderFor(client, recv, 9)
	if err != nil || pnLen != 4 {
		t.Fatalf("unprotect: %d %v", pnLen, err)
	}
	pt, err := client.open(recv, 13, 2)
	if err != nil || !bytes.Equal(pt, orig[13:]) || !bytes.Equal(recv[:13], orig[:13]) {
		t.Fatalf("open: %v", err)
	}
}

// unprotectHeaderFor unprotects with other's header key (test helper: the
// receiver of the client's packets uses the client's keys).
func (k *aeadKeys) unprotectHeaderFor(other packetKeys, pkt []byte, pnOffset int) (int, error) {
	return other.unprotectHeader(pkt, pnOffset)
}
