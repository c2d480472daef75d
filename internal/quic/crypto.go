package quic

// maxCryptoBuffer bounds the CRYPTO data of one encryption level buffered
// beyond what TLS consumed (RFC 9000 §7.5 asks for at least 4096 bytes);
// our handshake messages are a few KiB, a certificate-less raw key
// handshake far less.
const maxCryptoBuffer = 64 << 10

// cryptoStream is the CRYPTO stream of one encryption level: the TLS bytes
// we send and those we reassemble for TLS.
type cryptoStream struct {
	send sendBuf
	recv recvBuf
}

// push stores CRYPTO frame data.
func (c *cryptoStream) push(off uint64, data []byte) *TransportError {
	_, err := c.recv.push(off, data, false, c.recv.readTo+maxCryptoBuffer, CryptoBufferExceeded)
	return err
}

// take returns the next in-order bytes for TLS (they must be handed over
// before the next push) and consumes them.
func (c *cryptoStream) take() []byte {
	b := c.recv.peek(maxCryptoBuffer)
	if len(b) > 0 {
		c.recv.consume(len(b))
	}
	return b
}

// discard frees the buffers when the level's keys are dropped.
func (c *cryptoStream) discard() {
	c.send.reset()
	c.recv.free()
}
