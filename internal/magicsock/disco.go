package magicsock

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/poly1305" //nolint:staticcheck // NaCl-style secretbox needs one-shot Poly1305

	"github.com/iroh-go/iroh/key"
)

// Disco ("discovery") packets are the path probes of the layer: sent over
// UDP or as a relay datagram, sealed for one receiver. The layout is Rust
// iroh 0.35's (iroh 0.35 iroh/src/disco.rs), byte-identical with its vectors:
//
//	magic[6] || sender_id[32] || tag[16] || ciphertext || nonce[24]
//
// sealed with crypto_box_curve25519xchacha20poly1305 between the X25519
// forms of the two endpoints' Ed25519 keys.

var discoMagic = [6]byte{0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac} // "TS💬"

const (
	discoHeaderLen = 6 + key.Size
	discoTagLen    = poly1305.TagSize
	discoNonceLen  = 24
	// discoMinLen is the shortest packet that can be a disco packet.
	discoMinLen = discoHeaderLen + discoTagLen + 2 + discoNonceLen
	// discoMaxLen bounds what we try to open (CallMeMaybe with many addrs).
	discoMaxLen = 4096
	txIDLen     = 12
	// epAddrLen is the size of one address in Pong and CallMeMaybe.
	epAddrLen = 18
)

// Disco message types.
const (
	discoPing        = 0x01
	discoPong        = 0x02
	discoCallMeMaybe = 0x03
)

// looksLikeDisco reports whether b has the disco magic and minimum length.
func looksLikeDisco(b []byte) bool {
	return len(b) >= discoMinLen && [6]byte(b[:6]) == discoMagic
}

// discoSender returns the sender id of a disco packet (unauthenticated until
// opened).
func discoSender(b []byte) (key.PublicKey, bool) {
	if !looksLikeDisco(b) {
		return key.PublicKey{}, false
	}
	var id key.PublicKey
	copy(id[:], b[6:discoHeaderLen])
	return id, true
}

// sharedKey computes the crypto_box precomputed key between our secret and
// a peer's public key: HChaCha20(X25519(a, B), 0^16).
func sharedKey(sk key.SecretKey, peer key.PublicKey) ([32]byte, error) {
	var out [32]byte
	pub, err := peer.X25519()
	if err != nil {
		return out, err
	}
	priv := sk.X25519()
	shared, err := curve25519.X25519(priv[:], pub[:])
	if err != nil {
		return out, fmt.Errorf("disco: key agreement: %w", err)
	}
	k, err := chacha20.HChaCha20(shared, make([]byte, 16))
	if err != nil {
		return out, err
	}
	copy(out[:], k)
	return out, nil
}

// seal appends the sealed disco packet for plaintext to dst.
func seal(dst []byte, boxKey *[32]byte, sender key.PublicKey, plaintext []byte, nonce *[24]byte) []byte {
	var n [24]byte
	if nonce != nil {
		n = *nonce
	} else if _, err := rand.Read(n[:]); err != nil {
		panic("disco: crypto/rand: " + err.Error())
	}
	dst = append(dst, discoMagic[:]...)
	dst = append(dst, sender[:]...)
	tagAt := len(dst)
	dst = append(dst, make([]byte, discoTagLen)...)
	ctAt := len(dst)
	dst = append(dst, plaintext...)
	c, _ := chacha20.NewUnauthenticatedCipher(boxKey[:], n[:])
	var polyKey [32]byte
	c.XORKeyStream(polyKey[:], polyKey[:])
	c.XORKeyStream(dst[ctAt:], dst[ctAt:])
	var tag [16]byte
	poly1305.Sum(&tag, dst[ctAt:], &polyKey)
	copy(dst[tagAt:], tag[:])
	return append(dst, n[:]...)
}

var errDiscoAuth = errors.New("disco: packet does not authenticate")

// open authenticates and decrypts a disco packet in place and returns its
// plaintext, which aliases pkt.
func open(pkt []byte, boxKey *[32]byte) ([]byte, error) {
	if !looksLikeDisco(pkt) {
		return nil, errors.New("disco: not a disco packet")
	}
	if len(pkt) > discoMaxLen {
		return nil, fmt.Errorf("disco: packet of %d bytes exceeds %d", len(pkt), discoMaxLen)
	}
	nonce := pkt[len(pkt)-discoNonceLen:]
	box := pkt[discoHeaderLen : len(pkt)-discoNonceLen]
	tag, ct := box[:discoTagLen], box[discoTagLen:]
	c, _ := chacha20.NewUnauthenticatedCipher(boxKey[:], nonce)
	var polyKey [32]byte
	c.XORKeyStream(polyKey[:], polyKey[:])
	var want [16]byte
	poly1305.Sum(&want, ct, &polyKey)
	if subtle.ConstantTimeCompare(want[:], tag) != 1 {
		return nil, errDiscoAuth
	}
	c.XORKeyStream(ct, ct)
	return ct, nil
}

// discoMsg is one decoded disco message.
type discoMsg struct {
	typ byte
	// Ping and Pong
	txID [txIDLen]byte
	// Ping: the sender's id, as 0.35 carries it.
	nodeKey key.PublicKey
	// Pong: where the ping was seen from (UDP), or the relay it came through.
	src      netip.AddrPort
	srcRelay string
	// CallMeMaybe: the sender's direct addresses.
	addrs []netip.AddrPort
}

func appendEpAddr(b []byte, ap netip.AddrPort) []byte {
	a := ap.Addr().As16() // IPv4 as ::ffff:a.b.c.d
	b = append(b, a[:]...)
	return binary.LittleEndian.AppendUint16(b, ap.Port())
}

func parseEpAddr(b []byte) netip.AddrPort {
	a := netip.AddrFrom16([16]byte(b[:16])).Unmap()
	return netip.AddrPortFrom(a, binary.LittleEndian.Uint16(b[16:18]))
}

// appendDisco appends the plaintext encoding of m.
func appendDisco(b []byte, m *discoMsg) []byte {
	b = append(b, m.typ, 0)
	switch m.typ {
	case discoPing:
		b = append(b, m.txID[:]...)
		b = append(b, m.nodeKey[:]...)
	case discoPong:
		b = append(b, m.txID[:]...)
		if m.srcRelay != "" {
			b = append(b, 1)
			b = append(b, m.srcRelay...)
		} else {
			b = append(b, 0)
			b = appendEpAddr(b, m.src)
		}
	case discoCallMeMaybe:
		for _, a := range m.addrs {
			b = appendEpAddr(b, a)
		}
	}
	return b
}

// maxCallMeMaybeAddrs bounds the addresses taken from one CallMeMaybe.
const maxCallMeMaybeAddrs = 64

// parseDisco decodes a disco plaintext.
func parseDisco(b []byte) (discoMsg, error) {
	var m discoMsg
	if len(b) < 2 {
		return m, fmt.Errorf("disco: plaintext of %d bytes", len(b))
	}
	m.typ = b[0]
	if b[1] != 0 {
		return m, fmt.Errorf("disco: version %d, want 0", b[1])
	}
	body := b[2:]
	switch m.typ {
	case discoPing:
		if len(body) < txIDLen+key.Size {
			return m, fmt.Errorf("disco: ping body of %d bytes, want %d", len(body), txIDLen+key.Size)
		}
		copy(m.txID[:], body)
		copy(m.nodeKey[:], body[txIDLen:])
	case discoPong:
		if len(body) < txIDLen+1 {
			return m, fmt.Errorf("disco: pong body of %d bytes", len(body))
		}
		copy(m.txID[:], body)
		rest := body[txIDLen:]
		switch rest[0] {
		case 0:
			if len(rest) != 1+epAddrLen {
				return m, fmt.Errorf("disco: pong address of %d bytes, want %d", len(rest)-1, epAddrLen)
			}
			m.src = parseEpAddr(rest[1:])
		case 1:
			if len(rest) > 1+2048 {
				return m, fmt.Errorf("disco: pong relay url too long")
			}
			m.srcRelay = string(rest[1:])
		default:
			return m, fmt.Errorf("disco: pong address kind %d", rest[0])
		}
	case discoCallMeMaybe:
		if len(body)%epAddrLen != 0 {
			return m, fmt.Errorf("disco: call-me-maybe body of %d bytes is not a multiple of %d", len(body), epAddrLen)
		}
		n := len(body) / epAddrLen
		if n > maxCallMeMaybeAddrs {
			return m, fmt.Errorf("disco: call-me-maybe with %d addresses exceeds %d", n, maxCallMeMaybeAddrs)
		}
		for i := 0; i < n; i++ {
			m.addrs = append(m.addrs, parseEpAddr(body[i*epAddrLen:]))
		}
	default:
		return m, fmt.Errorf("disco: unknown message type %d", m.typ)
	}
	return m, nil
}
