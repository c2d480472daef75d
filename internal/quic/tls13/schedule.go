package tls13

import (
	"crypto/hkdf"
	"crypto/hmac"
	"hash"
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

// extract is HKDF-Extract; a nil salt or ikm is HashLen zero bytes.
func extract(h func() hash.Hash, ikm, salt []byte) []byte {
	size := h().Size()
	if ikm == nil {
		ikm = make([]byte, size)
	}
	if salt == nil {
		salt = make([]byte, size)
	}
	out, err := hkdf.Extract(h, ikm, salt)
	if err != nil {
		panic("tls13: hkdf extract: " + err.Error()) // only in FIPS-only mode with short keys
	}
	return out
}

// deriveSecret is Derive-Secret(secret, label, transcript) given the
// transcript hash already computed.
func deriveSecret(h func() hash.Hash, secret []byte, label string, transcriptHash []byte) []byte {
	return ExpandLabel(h, secret, label, transcriptHash, h().Size())
}

// emptyHash is Hash("") of the suite.
func emptyHash(h func() hash.Hash) []byte { return h().Sum(nil) }

// earlySecret is HKDF-Extract(0, psk), psk nil without resumption.
func earlySecret(h func() hash.Hash, psk []byte) []byte { return extract(h, psk, nil) }

// nextSecret is HKDF-Extract(Derive-Secret(prev, "derived", ""), ikm).
func nextSecret(h func() hash.Hash, prev, ikm []byte) []byte {
	return extract(h, ikm, deriveSecret(h, prev, labelDerived, emptyHash(h)))
}

// finishedMAC is the verify_data of a Finished message: HMAC over the
// transcript hash with the finished key of the base traffic secret.
func finishedMAC(h func() hash.Hash, baseKey, transcriptHash []byte) []byte {
	fk := ExpandLabel(h, baseKey, labelFinished, nil, h().Size())
	m := hmac.New(h, fk)
	m.Write(transcriptHash)
	return m.Sum(nil)
}

// resumptionPSK is the PSK of a ticket: HKDF-Expand-Label(res_master,
// "resumption", nonce, Hash.length).
func resumptionPSK(h func() hash.Hash, resMaster, nonce []byte) []byte {
	return ExpandLabel(h, resMaster, labelResumption, nonce, h().Size())
}

// transcript holds the handshake messages so far. Handshakes are a few KiB,
// so keeping bytes and hashing on demand is cheap and lets the client hash
// before it knows the suite.
type transcript struct {
	b []byte
}

func (t *transcript) add(msg []byte) { t.b = append(t.b, msg...) }

func (t *transcript) sum(h func() hash.Hash) []byte {
	d := h()
	d.Write(t.b)
	return d.Sum(nil)
}

// sumWith hashes the transcript followed by extra bytes, without adding them.
func (t *transcript) sumWith(h func() hash.Hash, extra []byte) []byte {
	d := h()
	d.Write(t.b)
	d.Write(extra)
	return d.Sum(nil)
}

// restartForHRR replaces ClientHello1 by the synthetic message_hash message
// (RFC 8446 §4.4.1).
func (t *transcript) restartForHRR(h func() hash.Hash) {
	sum := t.sum(h)
	t.b = append(t.b[:0], typeMessageHash, 0, 0, byte(len(sum)))
	t.b = append(t.b, sum...)
}
