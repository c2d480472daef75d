package tls13

import (
	"crypto/hkdf"
	"crypto/hmac"
)

// The key schedule of RFC 8446 §7.1, as plain functions of the suite's hash.
// Labels are the RFC's; "c e traffic" and friends.
const (
	labelExtBinder       = "ext binder"
	labelResBinder       = "res binder"
	labelClientEarly     = "c e traffic"
	labelDerived         = "derived"
	labelClientHandshake = "c hs traffic"
	labelServerHandshake = "s hs traffic"
	labelClientApp       = "c ap traffic"
	labelServerApp       = "s ap traffic"
	labelResMaster       = "res master"
	labelResumption      = "resumption"
	labelFinished        = "finished"
)

// zeros is HashLen zero bytes for the largest hash (SHA-384).
var zeros [48]byte

// extract is HKDF-Extract; a nil salt or ikm is HashLen zero bytes.
func extract(s CipherSuite, ikm, salt []byte) []byte {
	size := s.Hash().Size()
	if ikm == nil {
		ikm = zeros[:size]
	}
	if salt == nil {
		salt = zeros[:size]
	}
	out, err := hkdf.Extract(s.NewHash(), ikm, salt)
	if err != nil {
		panic("tls13: hkdf extract: " + err.Error()) // only in FIPS-only mode with short keys
	}
	return out
}

// deriveSecret is Derive-Secret(secret, label, transcript) given the
// transcript hash already computed.
func deriveSecret(s CipherSuite, secret []byte, label string, transcriptHash []byte) []byte {
	return ExpandLabel(s.NewHash(), secret, label, transcriptHash, s.Hash().Size())
}

// Hash("") of SHA-256 and SHA-384, computed once.
var (
	emptySHA256 = TLS_AES_128_GCM_SHA256.NewHash()().Sum(nil)
	emptySHA384 = TLS_AES_256_GCM_SHA384.NewHash()().Sum(nil)
)

// emptyHash is Hash("") of the suite. Callers must not modify it.
func emptyHash(s CipherSuite) []byte {
	if s == TLS_AES_256_GCM_SHA384 {
		return emptySHA384
	}
	return emptySHA256
}

// earlySecret is HKDF-Extract(0, psk), psk nil without resumption.
func earlySecret(s CipherSuite, psk []byte) []byte { return extract(s, psk, nil) }

// nextSecret is HKDF-Extract(Derive-Secret(prev, "derived", ""), ikm).
func nextSecret(s CipherSuite, prev, ikm []byte) []byte {
	return extract(s, ikm, deriveSecret(s, prev, labelDerived, emptyHash(s)))
}

// finishedMAC is the verify_data of a Finished message: HMAC over the
// transcript hash with the finished key of the base traffic secret.
func finishedMAC(s CipherSuite, baseKey, transcriptHash []byte) []byte {
	fk := ExpandLabel(s.NewHash(), baseKey, labelFinished, nil, s.Hash().Size())
	m := hmac.New(s.NewHash(), fk)
	m.Write(transcriptHash)
	return m.Sum(nil)
}

// resumptionPSK is the PSK of a ticket: HKDF-Expand-Label(res_master,
// "resumption", nonce, Hash.length).
func resumptionPSK(s CipherSuite, resMaster, nonce []byte) []byte {
	return ExpandLabel(s.NewHash(), resMaster, labelResumption, nonce, s.Hash().Size())
}

// transcript holds the handshake messages so far. Handshakes are a few KiB,
// so keeping bytes and hashing on demand is cheap and lets the client hash
// before it knows the suite.
type transcript struct {
	b []byte
}

func (t *transcript) add(msg []byte) { t.b = append(t.b, msg...) }

func (t *transcript) sum(s CipherSuite) []byte {
	d := s.NewHash()()
	d.Write(t.b)
	return d.Sum(nil)
}

// sumWith hashes the transcript followed by extra bytes, without adding them.
func (t *transcript) sumWith(s CipherSuite, extra []byte) []byte {
	d := s.NewHash()()
	d.Write(t.b)
	d.Write(extra)
	return d.Sum(nil)
}

// restartForHRR replaces ClientHello1 by the synthetic message_hash message
// (RFC 8446 §4.4.1).
func (t *transcript) restartForHRR(s CipherSuite) {
	sum := t.sum(s)
	t.b = append(t.b[:0], typeMessageHash, 0, 0, byte(len(sum)))
	t.b = append(t.b, sum...)
}
