package quic

import (
	"bytes"
	"testing"
)

func TestCryptoStream(t *testing.T) {
	var c cryptoStream
	msg := bytes.Repeat([]byte("handshake"), 100)
	if err := c.push(450, msg[450:]); err != nil {
		t.Fatal(err)
	}
	if b := c.peek(); len(b) != 0 {
		t.Fatalf("took %d bytes before the gap was filled", len(b))
	}
	if err := c.push(0, msg[:450]); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for b := c.peek(); len(b) > 0; b = c.peek() {
		got = append(got, b...)
		c.consume(len(b))
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("reassembled CRYPTO data differs")
	}
	if err := c.push(uint64(len(msg))+maxCryptoBuffer, []byte{1}); err == nil || err.Code != CryptoBufferExceeded {
		t.Fatalf("far ahead: %v", err)
	}
}
