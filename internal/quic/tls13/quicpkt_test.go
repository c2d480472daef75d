package tls13

// A minimal QUIC v1 packet layer (RFC 9000 §17, RFC 9001 §5), only for the
// interop tests: enough to carry handshake bytes in CRYPTO frames to and
// from a real Rust iroh endpoint. The real one lives in internal/quic.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
)

var quicV1Salt = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}

type pktKeys struct {
	aead cipher.AEAD
	iv   []byte
	hp   func(sample []byte) []byte
}

func newPktKeys(suite CipherSuite, secret []byte) *pktKeys {
	h := suite.NewHash()
	key := ExpandLabel(h, secret, "quic key", nil, suite.KeyLen())
	hpKey := ExpandLabel(h, secret, "quic hp", nil, suite.KeyLen())
	k := &pktKeys{iv: ExpandLabel(h, secret, "quic iv", nil, 12)}
	if suite == TLS_CHACHA20_POLY1305_SHA256 {
		k.aead, _ = chacha20poly1305.New(key)
		k.hp = func(s []byte) []byte {
			c, _ := chacha20.NewUnauthenticatedCipher(hpKey, s[4:16])
			c.SetCounter(binary.LittleEndian.Uint32(s[:4]))
			m := make([]byte, 5)
			c.XORKeyStream(m, m)
			return m
		}
		return k
	}
	block, _ := aes.NewCipher(key)
	k.aead, _ = cipher.NewGCM(block)
	hpBlock, _ := aes.NewCipher(hpKey)
	k.hp = func(s []byte) []byte {
		m := make([]byte, 16)
		hpBlock.Encrypt(m, s[:16])
		return m[:5]
	}
	return k
}

// initialKeys returns the client and server Initial keys for a DCID.
func initialKeys(dcid []byte) (client, server *pktKeys) {
	secret, _ := hkdf.Extract(sha256.New, dcid, quicV1Salt)
	c := ExpandLabel(sha256.New, secret, "client in", nil, 32)
	s := ExpandLabel(sha256.New, secret, "server in", nil, 32)
	return newPktKeys(TLS_AES_128_GCM_SHA256, c), newPktKeys(TLS_AES_128_GCM_SHA256, s)
}

func (k *pktKeys) nonce(pn uint64) []byte {
	n := append([]byte(nil), k.iv...)
	for i := range 8 {
		n[len(n)-1-i] ^= byte(pn >> (8 * i))
	}
	return n
}

func appendVarint62(b []byte, v uint64) []byte { return appendVarint(b, v) }

func readVarint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, errors.New("varint: empty")
	}
	n := 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0, errors.New("varint: short")
	}
	v := uint64(b[0] & 0x3f)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, n, nil
}

const (
	pktInitial   = 0
	pktHandshake = 2
)

// sealLong builds a protected long-header packet (4-byte packet number);
// padTo > 0 pads the payload so the packet is at least that long.
func sealLong(typ byte, dcid, scid []byte, k *pktKeys, pn uint64, payload []byte, padTo int) []byte {
	hdr := []byte{0xc0 | typ<<4 | 0x03, 0, 0, 0, 1, byte(len(dcid))}
	hdr = append(hdr, dcid...)
	hdr = append(hdr, byte(len(scid)))
	hdr = append(hdr, scid...)
	if typ == pktInitial {
		hdr = append(hdr, 0) // no token
	}
	if padTo > 0 {
		if n := padTo - (len(hdr) + 2 + 4 + len(payload) + 16); n > 0 {
			payload = append(payload, make([]byte, n)...)
		}
	}
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(4+len(payload)+16)|0x4000)
	pnOff := len(hdr)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(pn))
	pkt := k.aead.Seal(hdr, k.nonce(pn), payload, hdr)
	mask := k.hp(pkt[pnOff+4 : pnOff+20])
	pkt[0] ^= mask[0] & 0x0f
	for i := range 4 {
		pkt[pnOff+i] ^= mask[1+i]
	}
	return pkt
}

// sealShort builds a protected 1-RTT packet (4-byte packet number).
func sealShort(dcid []byte, k *pktKeys, pn uint64, payload []byte) []byte {
	hdr := append([]byte{0x40 | 0x03}, dcid...)
	pnOff := len(hdr)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(pn))
	for len(payload) < 16 {
		payload = append(payload, 0) // PADDING, so there is a sample
	}
	pkt := k.aead.Seal(hdr, k.nonce(pn), payload, hdr)
	mask := k.hp(pkt[pnOff+4 : pnOff+20])
	pkt[0] ^= mask[0] & 0x1f
	for i := range 4 {
		pkt[pnOff+i] ^= mask[1+i]
	}
	return pkt
}

// packet is one decrypted packet.
type packet struct {
	level   Level
	scid    []byte
	dcid    []byte
	payload []byte
}

// openDatagram splits a datagram into packets and decrypts those whose
// keys keyFor returns; the others come back raw in pending.
func openDatagram(d []byte, shortDCIDLen int, keyFor func(Level) *pktKeys) (pkts []packet, pending [][]byte, err error) {
	for len(d) > 0 {
		var p packet
		var pnOff, end int
		if d[0]&0x80 == 0 {
			p.level = LevelApplication
			pnOff, end = 1+shortDCIDLen, len(d)
			if len(d) < pnOff+20 {
				return pkts, pending, errors.New("short packet too short")
			}
			p.dcid = d[1:pnOff]
		} else {
			if len(d) < 7 {
				return pkts, pending, errors.New("long header too short")
			}
			typ := (d[0] >> 4) & 3
			pos := 5
			dl := int(d[pos])
			pos++
			if len(d) < pos+dl+1 {
				return pkts, pending, errors.New("bad dcid")
			}
			p.dcid = d[pos : pos+dl]
			pos += dl
			sl := int(d[pos])
			pos++
			if len(d) < pos+sl {
				return pkts, pending, errors.New("bad scid")
			}
			p.scid = d[pos : pos+sl]
			pos += sl
			switch typ {
			case pktInitial:
				p.level = LevelInitial
				tl, n, err := readVarint(d[pos:])
				if err != nil {
					return pkts, pending, err
				}
				pos += n + int(tl)
			case pktHandshake:
				p.level = LevelHandshake
			default:
				return pkts, pending, fmt.Errorf("long packet type %d", typ)
			}
			length, n, err := readVarint(d[pos:])
			if err != nil {
				return pkts, pending, err
			}
			pnOff = pos + n
			end = pnOff + int(length)
			if end > len(d) || length < 20 {
				return pkts, pending, errors.New("bad length")
			}
		}
		raw := d[:end]
		d = d[end:]
		k := keyFor(p.level)
		if k == nil {
			pending = append(pending, raw)
			continue
		}
		hdr := append([]byte(nil), raw[:pnOff+4]...)
		mask := k.hp(raw[pnOff+4 : pnOff+20])
		if hdr[0]&0x80 != 0 {
			hdr[0] ^= mask[0] & 0x0f
		} else {
			hdr[0] ^= mask[0] & 0x1f
		}
		pnLen := int(hdr[0]&3) + 1
		hdr = hdr[:pnOff+pnLen]
		var pn uint64
		for i := range pnLen {
			hdr[pnOff+i] ^= mask[1+i]
			pn = pn<<8 | uint64(hdr[pnOff+i])
		}
		pt, err := k.aead.Open(nil, k.nonce(pn), raw[pnOff+pnLen:], hdr)
		if err != nil {
			return pkts, pending, fmt.Errorf("%v packet %d does not decrypt", p.level, pn)
		}
		p.payload = pt
		pkts = append(pkts, p)
	}
	return pkts, pending, nil
}

// cryptoFrames returns the CRYPTO frames of a payload (offset -> data);
// a CONNECTION_CLOSE becomes an error. Parsing stops at a frame type it
// does not know (only after the handshake frames matter).
func cryptoFrames(b []byte) (map[uint64][]byte, error) {
	out := map[uint64][]byte{}
	for len(b) > 0 {
		typ, n, err := readVarint(b)
		if err != nil {
			return out, err
		}
		b = b[n:]
		next := func() uint64 {
			if err != nil {
				return 0
			}
			var v uint64
			v, n, err = readVarint(b)
			if err == nil {
				b = b[n:]
			}
			return v
		}
		switch typ {
		case 0x00, 0x01, 0x1e: // PADDING, PING, HANDSHAKE_DONE
		case 0x02, 0x03: // ACK
			next()
			next()
			count := next()
			next()
			for i := uint64(0); i < count && err == nil; i++ {
				next()
				next()
			}
			if typ == 0x03 {
				next()
				next()
				next()
			}
		case 0x06: // CRYPTO
			off := next()
			l := next()
			if err != nil || uint64(len(b)) < l {
				return out, errors.New("bad CRYPTO frame")
			}
			out[off] = append([]byte(nil), b[:l]...)
			b = b[l:]
		case 0x1c, 0x1d: // CONNECTION_CLOSE
			code := next()
			if typ == 0x1c {
				next()
			}
			l := next()
			if err != nil || uint64(len(b)) < l {
				return out, fmt.Errorf("peer closed with code %#x", code)
			}
			return out, fmt.Errorf("peer closed with code %#x: %q", code, b[:l])
		default:
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// cryptoStream reassembles one level's CRYPTO stream.
type cryptoStream struct {
	next    uint64
	pending map[uint64][]byte
}

// add stores frames and returns the newly contiguous bytes.
func (s *cryptoStream) add(frames map[uint64][]byte) []byte {
	if s.pending == nil {
		s.pending = map[uint64][]byte{}
	}
	for off, d := range frames {
		s.pending[off] = d
	}
	var out []byte
	for {
		progressed := false
		for off, d := range s.pending {
			if off <= s.next && off+uint64(len(d)) > s.next {
				out = append(out, d[s.next-off:]...)
				s.next = off + uint64(len(d))
				progressed = true
			}
			if off+uint64(len(d)) <= s.next {
				delete(s.pending, off)
			}
		}
		if !progressed {
			return out
		}
	}
}

func cryptoFrame(off uint64, data []byte) []byte {
	b := appendVarint62([]byte{0x06}, off)
	b = appendVarint62(b, uint64(len(data)))
	return append(b, data...)
}

// transportParams encodes the few transport parameters a handshake needs.
func encodeTransportParams(odcid, scid []byte) []byte {
	var b []byte
	add := func(id uint64, v []byte) {
		b = appendVarint62(b, id)
		b = appendVarint62(b, uint64(len(v)))
		b = append(b, v...)
	}
	if odcid != nil {
		add(0x00, odcid)
	}
	add(0x0f, scid)
	add(0x01, appendVarint62(nil, 30000))
	add(0x04, appendVarint62(nil, 1<<20))
	add(0x05, appendVarint62(nil, 1<<18))
	add(0x06, appendVarint62(nil, 1<<18))
	add(0x07, appendVarint62(nil, 1<<18))
	add(0x08, appendVarint62(nil, 16))
	add(0x09, appendVarint62(nil, 16))
	return b
}
