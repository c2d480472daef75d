package protect

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	k, err := NewTokenKey(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewTokenKey(bytes.Repeat([]byte{4}, 32))
	now := time.UnixMilli(1_800_000_000_000)
	addr := netip.MustParseAddrPort("192.0.2.7:4433")
	retry := Token{Retry: true, Issued: now, Addr: addr, OriginalDstCID: []byte{1, 2, 3, 4, 5, 6, 7, 8}, RetrySrcCID: []byte{9, 9}}
	b, err := k.Seal(&retry)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Open(b)
	if err != nil || !got.Issued.Equal(now) || got.Addr != addr || !bytes.Equal(got.OriginalDstCID, retry.OriginalDstCID) ||
		!bytes.Equal(got.RetrySrcCID, retry.RetrySrcCID) || !got.Retry {
		t.Fatalf("open: %+v %v", got, err)
	}
	if !got.Valid(now.Add(time.Second), addr, 10*time.Second) {
		t.Error("fresh Retry token invalid")
	}
	if got.Valid(now.Add(11*time.Second), addr, 10*time.Second) || got.Valid(now, netip.MustParseAddrPort("192.0.2.7:4434"), time.Minute) {
		t.Error("expired or other-port Retry token valid")
	}
	nt := Token{Issued: now, Addr: netip.MustParseAddrPort("[2001:db8::1]:1000")}
	b2, _ := k.Seal(&nt)
	got, err = k.Open(b2)
	if err != nil || got.Retry || !got.Valid(now, netip.MustParseAddrPort("[2001:db8::1]:2000"), time.Hour) {
		t.Errorf("NEW_TOKEN token: %+v %v", got, err)
	}
	if _, err := other.Open(b); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("token opened under another key: %v", err)
	}
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x80
		if _, err := k.Open(c); err == nil {
			t.Fatalf("tampered byte %d accepted", i)
		}
	}
	if _, err := k.Seal(&Token{Addr: addr, OriginalDstCID: make([]byte, 21)}); err == nil {
		t.Error("21-byte CID sealed")
	}
	if _, err := NewTokenKey(make([]byte, 16)); err == nil {
		t.Error("16-byte key accepted")
	}
}

func FuzzTokenOpen(f *testing.F) {
	k, _ := NewTokenKey(bytes.Repeat([]byte{3}, 32))
	tok, _ := k.Seal(&Token{Retry: true, Issued: time.UnixMilli(1), Addr: netip.MustParseAddrPort("10.0.0.1:1"), OriginalDstCID: []byte{1}})
	f.Add(tok)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := k.Open(b)
		if err != nil {
			return
		}
		again, err := k.Seal(&got)
		if err != nil {
			t.Fatalf("reseal: %v", err)
		}
		if _, err := k.Open(again); err != nil {
			t.Fatalf("reopen: %v", err)
		}
	})
}
