package tls13

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestExpandLabelRFC9001 derives the client Initial keys of RFC 9001
// Appendix A.1 from its connection ID.
func TestExpandLabelRFC9001(t *testing.T) {
	salt, _ := hex.DecodeString("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
	dcid, _ := hex.DecodeString("8394c8f03e515708")
	initial, err := hkdf.Extract(sha256.New, dcid, salt)
	if err != nil {
		t.Fatal(err)
	}
	client := ExpandLabel(sha256.New, initial, "client in", nil, 32)
	want := map[string]string{
		"quic key": "1f369613dd76d5467730efcbe3b1a22d",
		"quic iv":  "fa044b2f42a3fd3b46fb255c",
		"quic hp":  "9f50449e04a0e810283a1e9933adedd2",
	}
	for label, w := range want {
		wb, _ := hex.DecodeString(w)
		if got := ExpandLabel(sha256.New, client, label, nil, len(wb)); !bytes.Equal(got, wb) {
			t.Errorf("%s = %x, want %s", label, got, w)
		}
	}
}
