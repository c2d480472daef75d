package protect

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/iroh-go/iroh/internal/quic/tls13"
	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
)

// Sizes of the protection.
const (
	// TagLen is the AEAD tag every protected packet carries (all three
	// suites use 16 bytes).
	TagLen = 16
	// SampleLen is the header protection sample (RFC 9001 §5.4.2).
	SampleLen = 16
	// SampleOffset is how far after the start of the packet number the
	// sample starts: the packet number is assumed to be 4 bytes long.
	SampleOffset = 4
	ivLen        = 12
)

// initialSaltV1 is the QUIC v1 Initial salt (RFC 9001 §5.2).
var initialSaltV1 = []byte{
	0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
}

// Errors.
var (
	// ErrDecrypt is returned by Open for a packet that fails
	// authentication; the packet is to be dropped silently.
	ErrDecrypt = errors.New("protect: packet authentication failed")
	// ErrShortPacket is returned when a packet is too short to hold the
	// header protection sample (RFC 9001 §5.4.2): it is dropped.
	ErrShortPacket = errors.New("protect: packet too short for the header protection sample")
)

// InitialSecrets derives the client and server Initial secrets of QUIC v1
// from the client's first Destination Connection ID (RFC 9001 §5.2).
func InitialSecrets(dcid []byte) (client, server []byte) {
	initial, err := hkdf.Extract(sha256.New, dcid, initialSaltV1)
	if err != nil {
		panic("protect: " + err.Error()) // only for FIPS-140 only mode key lengths
	}
	client = tls13.ExpandLabel(sha256.New, initial, "client in", nil, sha256.Size)
	server = tls13.ExpandLabel(sha256.New, initial, "server in", nil, sha256.Size)
	return client, server
}

// InitialKeys returns the Initial packet keys for one side: seal protects
// what this side sends, open removes the peer's protection.
func InitialKeys(dcid []byte, isClient bool) (seal, open *Keys) {
	c, s := InitialSecrets(dcid)
	if !isClient {
		c, s = s, c
	}
	seal, err := NewKeys(tls13.TLS_AES_128_GCM_SHA256, c)
	if err != nil {
		panic(err) // fixed suite and secret length
	}
	open, err = NewKeys(tls13.TLS_AES_128_GCM_SHA256, s)
	if err != nil {
		panic(err)
	}
	return seal, open
}

// Keys protects or unprotects the packets of one direction at one
// encryption level: the AEAD packet key and IV and the header protection
// key derived from a TLS traffic secret (RFC 9001 §5.1). A key update
// (Next) replaces the packet key and keeps the header key.
//
// A Keys is not safe for concurrent use (it keeps scratch space so that
// no call allocates); the keys of a key update share the header key and
// belong to the same goroutine.
type Keys struct {
	suite  tls13.CipherSuite
	secret []byte
	aead   cipher.AEAD
	iv     [ivLen]byte
	nonce  [ivLen]byte
	hp     *headerKey
}

// headerKey is the header protection key with its scratch mask.
type headerKey struct {
	block  cipher.Block // AES suites
	chacha []byte       // ChaCha20 key
	mask   [16]byte
}

// NewKeys derives the keys of a traffic secret for the suite.
func NewKeys(suite tls13.CipherSuite, secret []byte) (*Keys, error) {
	if !suite.Known() {
		return nil, fmt.Errorf("protect: unsupported cipher suite %v", suite)
	}
	if len(secret) != suite.Hash().Size() {
		return nil, fmt.Errorf("protect: %v secret of %d bytes, want %d", suite, len(secret), suite.Hash().Size())
	}
	k, err := newPacketKeys(suite, secret)
	if err != nil {
		return nil, err
	}
	hpKey := tls13.ExpandLabel(suite.NewHash(), secret, "quic hp", nil, suite.KeyLen())
	k.hp = &headerKey{}
	if suite == tls13.TLS_CHACHA20_POLY1305_SHA256 {
		k.hp.chacha = hpKey
	} else if k.hp.block, err = aes.NewCipher(hpKey); err != nil {
		return nil, fmt.Errorf("protect: header key: %w", err)
	}
	return k, nil
}

func newPacketKeys(suite tls13.CipherSuite, secret []byte) (*Keys, error) {
	h := suite.NewHash()
	key := tls13.ExpandLabel(h, secret, "quic key", nil, suite.KeyLen())
	iv := tls13.ExpandLabel(h, secret, "quic iv", nil, ivLen)
	k := &Keys{suite: suite, secret: slices.Clone(secret)}
	copy(k.iv[:], iv)
	var err error
	if suite == tls13.TLS_CHACHA20_POLY1305_SHA256 {
		k.aead, err = chacha20poly1305.New(key)
	} else {
		var block cipher.Block
		if block, err = aes.NewCipher(key); err == nil {
			k.aead, err = cipher.NewGCM(block)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("protect: packet key: %w", err)
	}
	return k, nil
}

// Suite returns the cipher suite.
func (k *Keys) Suite() tls13.CipherSuite { return k.suite }

// NextSecret derives the next generation's secret for a key update
// (RFC 9001 §6.1, label "quic ku").
func NextSecret(suite tls13.CipherSuite, secret []byte) []byte {
	return tls13.ExpandLabel(suite.NewHash(), secret, "quic ku", nil, suite.Hash().Size())
}

// Next returns the keys of the next key phase: a new packet key and IV
// from NextSecret, the same header protection key.
func (k *Keys) Next() *Keys {
	n, err := newPacketKeys(k.suite, NextSecret(k.suite, k.secret))
	if err != nil {
		panic(err) // the suite and secret length were checked by NewKeys
	}
	n.hp = k.hp
	return n
}

// setNonce computes the AEAD nonce: the IV xor the 96-bit big-endian
// number made of the path ID (32 bits) and the packet number (64 bits,
// of which 62 are used). Path 0, and QUIC without multipath, leave the
// first 4 bytes of the IV as they are (RFC 9001 §5.3;
// draft-ietf-quic-multipath §2.4, as rustls/noq compute it).
func (k *Keys) setNonce(pathID uint32, pn uint64) []byte {
	k.nonce = k.iv
	for i := range 8 {
		k.nonce[ivLen-1-i] ^= byte(pn >> (8 * i))
	}
	for i := range 4 {
		k.nonce[3-i] ^= byte(pathID >> (8 * i))
	}
	return k.nonce[:]
}

// Seal encrypts pkt[hdrLen:] in place with the packet number pn, the
// header pkt[:hdrLen] as associated data, and returns pkt extended by the
// tag (TagLen bytes; pkt is reallocated only if its capacity is short).
func (k *Keys) Seal(pkt []byte, hdrLen int, pn uint64) []byte {
	return k.SealForPath(pkt, hdrLen, 0, pn)
}

// SealForPath is Seal for a packet of multipath path pathID, whose ID
// enters the nonce (path 0 is the same as Seal).
func (k *Keys) SealForPath(pkt []byte, hdrLen int, pathID uint32, pn uint64) []byte {
	pkt = slices.Grow(pkt, TagLen)
	out := k.aead.Seal(pkt[hdrLen:hdrLen], k.setNonce(pathID, pn), pkt[hdrLen:], pkt[:hdrLen])
	return pkt[:hdrLen+len(out)]
}

// Open decrypts and authenticates pkt[hdrLen:] (ciphertext and tag) in
// place, with the unprotected header pkt[:hdrLen] as associated data,
// and returns the plaintext (a slice of pkt). A failure is ErrDecrypt.
func (k *Keys) Open(pkt []byte, hdrLen int, pn uint64) ([]byte, error) {
	return k.OpenForPath(pkt, hdrLen, 0, pn)
}

// OpenForPath is Open for a packet of multipath path pathID.
func (k *Keys) OpenForPath(pkt []byte, hdrLen int, pathID uint32, pn uint64) ([]byte, error) {
	if len(pkt) < hdrLen+TagLen {
		return nil, ErrDecrypt
	}
	out, err := k.aead.Open(pkt[hdrLen:hdrLen], k.setNonce(pathID, pn), pkt[hdrLen:], pkt[:hdrLen])
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}

func (h *headerKey) computeMask(sample []byte) *[16]byte {
	if h.block != nil {
		h.block.Encrypt(h.mask[:], sample)
		return &h.mask
	}
	c, err := chacha20.NewUnauthenticatedCipher(h.chacha, sample[4:16])
	if err != nil {
		panic(err) // fixed key and nonce sizes
	}
	c.SetCounter(binary.LittleEndian.Uint32(sample[:4]))
	clear(h.mask[:5])
	c.XORKeyStream(h.mask[:5], h.mask[:5])
	return &h.mask
}

// ProtectHeader applies header protection to a sealed packet whose packet
// number starts at pnOff (RFC 9001 §5.4): it masks the low bits of the
// first byte and the packet number. The packet number length is read
// from the unprotected first byte. pkt must hold the sample, SampleOffset
// + SampleLen bytes after pnOff (short packets are padded by the sender).
func (k *Keys) ProtectHeader(pkt []byte, pnOff int) error {
	if len(pkt) < pnOff+SampleOffset+SampleLen {
		return ErrShortPacket
	}
	mask := k.hp.computeMask(pkt[pnOff+SampleOffset : pnOff+SampleOffset+SampleLen])
	pnLen := int(pkt[0]&3) + 1
	if pkt[0]&0x80 != 0 {
		pkt[0] ^= mask[0] & 0x0f
	} else {
		pkt[0] ^= mask[0] & 0x1f
	}
	for i := range pnLen {
		pkt[pnOff+i] ^= mask[1+i]
	}
	return nil
}

// UnprotectHeader removes header protection in place and returns the
// packet number length; the truncated packet number is then
// pkt[pnOff:pnOff+pnLen] and, for a short header, the key phase bit is
// readable in pkt[0]. A packet too short for the sample is ErrShortPacket.
func (k *Keys) UnprotectHeader(pkt []byte, pnOff int) (pnLen int, err error) {
	if pnOff < 1 || len(pkt) < pnOff+SampleOffset+SampleLen {
		return 0, ErrShortPacket
	}
	mask := k.hp.computeMask(pkt[pnOff+SampleOffset : pnOff+SampleOffset+SampleLen])
	if pkt[0]&0x80 != 0 {
		pkt[0] ^= mask[0] & 0x0f
	} else {
		pkt[0] ^= mask[0] & 0x1f
	}
	pnLen = int(pkt[0]&3) + 1
	for i := range pnLen {
		pkt[pnOff+i] ^= mask[1+i]
	}
	return pnLen, nil
}

// SealPacket seals the packet pkt, whose header (ending with a pnLen-byte
// packet number at pnOff) is followed by the plaintext payload, and
// applies header protection. It returns pkt extended by the tag, or
// ErrShortPacket if the payload is too short for the sample (a sender
// pads so that pnLen + payload is at least 4 bytes before the tag).
func (k *Keys) SealPacket(pkt []byte, pnOff, pnLen int, pn uint64) ([]byte, error) {
	return k.SealPacketForPath(pkt, pnOff, pnLen, 0, pn)
}

// SealPacketForPath is SealPacket for a 1-RTT packet of multipath path
// pathID.
func (k *Keys) SealPacketForPath(pkt []byte, pnOff, pnLen int, pathID uint32, pn uint64) ([]byte, error) {
	if len(pkt)+TagLen < pnOff+SampleOffset+SampleLen {
		return pkt, ErrShortPacket
	}
	pkt = k.SealForPath(pkt, pnOff+pnLen, pathID, pn)
	return pkt, k.ProtectHeader(pkt, pnOff)
}

// OpenPacket removes header protection, recovers the full packet number
// from largest (the largest received in this packet number space, or
// wire.NoPacketNumber), and decrypts. It is for Initial, Handshake and
// 0-RTT packets; 1-RTT packets choose their keys by key phase between
// UnprotectHeader and Open. On error pkt's header is left unprotected or
// partly decrypted: drop the packet.
func (k *Keys) OpenPacket(pkt []byte, pnOff int, largest uint64) (pn uint64, payload []byte, err error) {
	pnLen, err := k.UnprotectHeader(pkt, pnOff)
	if err != nil {
		return 0, nil, err
	}
	var trunc uint64
	for _, c := range pkt[pnOff : pnOff+pnLen] {
		trunc = trunc<<8 | uint64(c)
	}
	pn = decodePN(largest, trunc, pnLen)
	payload, err = k.Open(pkt, pnOff+pnLen, pn)
	return pn, payload, err
}

// decodePN is RFC 9000 A.3 (as wire.DecodePacketNumber; protect does not
// import wire).
func decodePN(largest, truncated uint64, pnLen int) uint64 {
	expected := largest + 1
	win := uint64(1) << (8 * pnLen)
	half, mask := win/2, win-1
	candidate := expected&^mask | truncated
	if candidate+half <= expected && candidate < 1<<62-win {
		return candidate + win
	}
	if candidate > expected+half && candidate >= win {
		return candidate - win
	}
	return candidate
}

// ConfidentialityLimit is how many packets may be sealed with one key
// before a key update is due (RFC 9001 §6.6).
func (k *Keys) ConfidentialityLimit() uint64 {
	if k.suite == tls13.TLS_CHACHA20_POLY1305_SHA256 {
		return 1 << 62 // larger than any packet number
	}
	return 1 << 23
}

// IntegrityLimit is how many packets failing authentication with one key
// end the connection (RFC 9001 §6.6: AEAD_LIMIT_REACHED).
func (k *Keys) IntegrityLimit() uint64 {
	if k.suite == tls13.TLS_CHACHA20_POLY1305_SHA256 {
		return 1 << 36
	}
	return 1 << 52
}

// retryKeyV1 and retryNonceV1 are the fixed Retry integrity key and nonce
// of QUIC v1 (RFC 9001 §5.8).
var (
	retryKeyV1   = []byte{0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e}
	retryNonceV1 = []byte{0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb}
)

// RetryIntegrityTag computes the tag of a Retry packet (given without its
// tag) answering a client whose original Destination Connection ID was
// odcid (RFC 9001 §5.8).
func RetryIntegrityTag(odcid, retry []byte) [TagLen]byte {
	block, err := aes.NewCipher(retryKeyV1)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	pseudo := make([]byte, 0, 1+len(odcid)+len(retry))
	pseudo = append(append(append(pseudo, byte(len(odcid))), odcid...), retry...)
	var tag [TagLen]byte
	copy(tag[:], gcm.Seal(nil, retryNonceV1, nil, pseudo))
	return tag
}

// VerifyRetry reports whether the Retry packet pkt (tag included) carries
// the right integrity tag for odcid.
func VerifyRetry(odcid, pkt []byte) bool {
	if len(pkt) < TagLen {
		return false
	}
	tag := RetryIntegrityTag(odcid, pkt[:len(pkt)-TagLen])
	return hmac.Equal(tag[:], pkt[len(pkt)-TagLen:])
}

// ResetTokenLen is the length of a stateless reset token.
const ResetTokenLen = 16

// StatelessResetToken derives the stateless reset token of a connection
// ID under the endpoint's static key (RFC 9000 §10.3.2): the first 16
// bytes of HMAC-SHA256(key, cid). The same key must survive restarts for
// resets to work after one; it must be secret.
func StatelessResetToken(key, cid []byte) [ResetTokenLen]byte {
	m := hmac.New(sha256.New, key)
	m.Write(cid)
	var t [ResetTokenLen]byte
	copy(t[:], m.Sum(nil))
	return t
}
