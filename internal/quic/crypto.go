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

// peek returns the next in-order bytes for TLS, without copying; consume
// them with consume once TLS has taken them (consuming may return their
// memory to the pool).
func (c *cryptoStream) peek() []byte { return c.recv.peek(maxCryptoBuffer) }

// consume marks n peeked bytes as handed to TLS.
func (c *cryptoStream) consume(n int) { c.recv.consume(n) }

// discard frees the buffers when the level's keys are dropped.
func (c *cryptoStream) discard() {
	c.send.reset()
	c.recv.free()
}
