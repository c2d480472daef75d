package quic

// Packet protection (RFC 9001 §5), kept here until internal/quic/protect
// lands; the core only sees the packetKeys interface.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/iroh-go/iroh/internal/quic/tls13"
	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
)

// initialSalt is QUIC v1's Initial salt (RFC 9001 §5.2).
var initialSalt = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}

var errDecrypt = errors.New("quic: packet failed authentication")

type aeadKeys struct {
	suite  tls13.CipherSuite
	secret []byte
	aead   cipher.AEAD
	iv     [12]byte
	hpKey  []byte
	hpAES  cipher.Block
	nonce  [12]byte
	mask   [16]byte
}

func init() {
	newKeys = func(suite tls13.CipherSuite, secret []byte) (packetKeys, error) {
		return deriveKeys(suite, secret, nil)
	}
	newInitialKeys = func(dcid []byte) (client, server packetKeys) {
		initial, _ := hkdf.Extract(sha256.New, dcid, initialSalt)
		h := tls13.TLS_AES_128_GCM_SHA256.NewHash()
		cs := tls13.ExpandLabel(h, initial, "client in", nil, 32)
		ss := tls13.ExpandLabel(h, initial, "server in", nil, 32)
		ck, _ := deriveKeys(tls13.TLS_AES_128_GCM_SHA256, cs, nil)
		sk, _ := deriveKeys(tls13.TLS_AES_128_GCM_SHA256, ss, nil)
		return ck, sk
	}
}

// deriveKeys makes the AEAD and IV from secret, and the header protection
// key unless hp is given (key updates keep it).
func deriveKeys(suite tls13.CipherSuite, secret, hp []byte) (*aeadKeys, error) {
	if !suite.Known() {
		return nil, fmt.Errorf("unknown cipher suite %v", suite)
	}
	h := suite.NewHash()
	k := &aeadKeys{suite: suite, secret: secret}
	key := tls13.ExpandLabel(h, secret, "quic key", nil, suite.KeyLen())
	copy(k.iv[:], tls13.ExpandLabel(h, secret, "quic iv", nil, 12))
	if hp == nil {
		hp = tls13.ExpandLabel(h, secret, "quic hp", nil, suite.KeyLen())
	}
	k.hpKey = hp
	var err error
	if suite == tls13.TLS_CHACHA20_POLY1305_SHA256 {
		k.aead, err = chacha20poly1305.New(key)
	} else {
		var b cipher.Block
		if b, err = aes.NewCipher(key); err == nil {
			k.aead, err = cipher.NewGCM(b)
		}
		if err == nil {
			k.hpAES, err = aes.NewCipher(hp)
		}
	}
	return k, err
}

func (k *aeadKeys) overhead() int { return aeadTagLen }

func (k *aeadKeys) makeNonce(pn uint64) []byte {
	k.nonce = k.iv
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], pn)
	for i := range 8 {
		k.nonce[4+i] ^= b[i]
	}
	return k.nonce[:]
}

func (k *aeadKeys) seal(pkt []byte, hdrLen int, pn uint64) []byte {
	ct := k.aead.Seal(pkt[hdrLen:hdrLen], k.makeNonce(pn), pkt[hdrLen:], pkt[:hdrLen])
	return pkt[:hdrLen+len(ct)]
}

func (k *aeadKeys) open(pkt []byte, hdrLen int, pn uint64) ([]byte, error) {
	if len(pkt)-hdrLen < aeadTagLen {
		return nil, errDecrypt
	}
	pt, err := k.aead.Open(pkt[hdrLen:hdrLen], k.makeNonce(pn), pkt[hdrLen:], pkt[:hdrLen])
	if err != nil {
		return nil, errDecrypt
	}
	return pt, nil
}

// headerMask computes the 5-byte mask from the 16-byte sample.
func (k *aeadKeys) headerMask(sample []byte) []byte {
	if k.hpAES != nil {
		k.hpAES.Encrypt(k.mask[:], sample)
		return k.mask[:5]
	}
	c, err := chacha20.NewUnauthenticatedCipher(k.hpKey, sample[4:16])
	if err != nil {
		return k.mask[:5]
	}
	c.SetCounter(binary.LittleEndian.Uint32(sample[:4]))
	k.mask = [16]byte{}
	c.XORKeyStream(k.mask[:5], k.mask[:5])
	return k.mask[:5]
}

func (k *aeadKeys) protectHeader(pkt []byte, pnOffset, pnLen int) {
	mask := k.headerMask(pkt[pnOffset+4 : pnOffset+20])
	if pkt[0]&0x80 != 0 {
		pkt[0] ^= mask[0] & 0x0f
	} else {
		pkt[0] ^= mask[0] & 0x1f
	}
	for i := range pnLen {
		pkt[pnOffset+i] ^= mask[1+i]
	}
}

func (k *aeadKeys) unprotectHeader(pkt []byte, pnOffset int) (int, error) {
	if len(pkt) < pnOffset+20 {
		return 0, errDecrypt
	}
	mask := k.headerMask(pkt[pnOffset+4 : pnOffset+20])
	if pkt[0]&0x80 != 0 {
		pkt[0] ^= mask[0] & 0x0f
	} else {
		pkt[0] ^= mask[0] & 0x1f
	}
	pnLen := int(pkt[0]&3) + 1
	for i := range pnLen {
		pkt[pnOffset+i] ^= mask[1+i]
	}
	return pnLen, nil
}

func (k *aeadKeys) next() packetKeys {
	h := k.suite.NewHash()
	secret := tls13.ExpandLabel(h, k.secret, "quic ku", nil, len(k.secret))
	nk, err := deriveKeys(k.suite, secret, k.hpKey)
	if err != nil {
		return k
	}
	return nk
}
