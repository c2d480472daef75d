package tls13

import (
	"fmt"
	"slices"
)

// Encoding of handshake messages by plain appends: a length-prefixed field
// reserves its prefix, appends the body and fills the length in, so that
// marshalling allocates only the output.

// errTooLong is panicked by appendLP when a body outgrows its length
// prefix; marshal functions recover it into an error.
type errTooLong struct{ n, prefix int }

func (e errTooLong) Error() string {
	return fmt.Sprintf("field of %d bytes does not fit a %d-byte length", e.n, e.prefix)
}

// catchTooLong turns an errTooLong panic into *err.
func catchTooLong(err *error) {
	if r := recover(); r != nil {
		e, ok := r.(errTooLong)
		if !ok {
			panic(r)
		}
		*err = e
	}
}

func appendU16(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

func appendU32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendLP appends what f appends, behind its length in n bytes (1 to 3).
func appendLP(b []byte, n int, f func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)[:start+n]
	b = f(b)
	l := len(b) - start - n
	if l >= 1<<(8*n) {
		panic(errTooLong{l, n})
	}
	for i := range n {
		b[start+n-1-i] = byte(l >> (8 * i))
	}
	return b
}

// appendBytesLP appends v behind its length in n bytes.
func appendBytesLP(b []byte, n int, v []byte) []byte {
	return appendLP(b, n, func(b []byte) []byte { return append(b, v...) })
}

// marshalHandshake builds a handshake message: type, 24-bit length, body.
func marshalHandshake(typ uint8, size int, body func([]byte) []byte) (out []byte, err error) {
	defer catchTooLong(&err)
	b := make([]byte, 0, handshakeHeaderSize+size)
	b = append(b, typ)
	return appendLP(b, 3, body), nil
}

func appendExt(b []byte, typ uint16, body func([]byte) []byte) []byte {
	b = appendU16(b, typ)
	return appendLP(b, 2, body)
}

func appendALPN(b []byte, protos []string) []byte {
	return appendLP(b, 2, func(b []byte) []byte {
		for _, p := range protos {
			b = append(b, byte(len(p)))
			if len(p) > 255 {
				panic(errTooLong{len(p), 1})
			}
			b = append(b, p...)
		}
		return b
	})
}

func appendSigAlgs(b []byte, algs []uint16) []byte {
	return appendLP(b, 2, func(b []byte) []byte {
		for _, a := range algs {
			b = appendU16(b, a)
		}
		return b
	})
}

// rawExtOrder is the order of the extensions we send: pre_shared_key must
// be last (RFC 8446 §4.2.11).
var rawExtOrder = []uint16{extServerName, extServerCertType, extClientCertType, extSupportedGroups, extALPN,
	extSupportedVersions, extPSKModes, extSignatureAlgorithms, extQUICTransportParams, extCookie, extKeyShare, extEarlyData}

// appendExtension appends one of our extensions if m has it.
func (m *clientHello) appendExtension(b []byte, typ uint16) []byte {
	switch typ {
	case extServerName:
		if m.serverName == "" {
			return b
		}
		return appendExt(b, typ, func(b []byte) []byte {
			return appendLP(b, 2, func(b []byte) []byte {
				b = append(b, 0) // host_name
				return appendLP(b, 2, func(b []byte) []byte { return append(b, m.serverName...) })
			})
		})
	case extServerCertType, extClientCertType:
		types := m.serverCertTypes
		if typ == extClientCertType {
			types = m.clientCertTypes
		}
		if types == nil {
			return b
		}
		return appendExt(b, typ, func(b []byte) []byte { return appendBytesLP(b, 1, types) })
	case extSupportedGroups:
		if len(m.supportedGroups) == 0 {
			return b
		}
		return appendExt(b, typ, func(b []byte) []byte {
			return appendLP(b, 2, func(b []byte) []byte {
				for _, g := range m.supportedGroups {
					b = appendU16(b, uint16(g))
				}
				return b
			})
		})
	case extALPN:
		if len(m.alpn) == 0 {
			return b
		}
		return appendExt(b, typ, func(b []byte) []byte { return appendALPN(b, m.alpn) })
	case extSupportedVersions:
		if len(m.supportedVersions) == 0 {
			return b
		}
		return appendExt(b, typ, func(b []byte) []byte {
			return appendLP(b, 1, func(b []byte) []byte {
				for _, v := range m.supportedVersions {
					b = appendU16(b, v)
				}
				return b
			})
		})
	case extPSKModes:
		if len(m.pskModes) == 0 {
			return b
		}
		return appendExt(b, typ, func(b []byte) []byte { return appendBytesLP(b, 1, m.pskModes) })
	case extSignatureAlgorithms:
		if len(m.signatureAlgorithms) == 0 {
			return b
		}
		return appendExt(b, typ, func(b []byte) []byte { return appendSigAlgs(b, m.signatureAlgorithms) })
	case extQUICTransportParams:
		if m.transportParams == nil {
			return b
		}
		return appendExt(b, typ, func(b []byte) []byte { return append(b, m.transportParams...) })
	case extCookie:
		if m.cookie == nil {
			return b
		}
		return appendExt(b, typ, func(b []byte) []byte { return appendBytesLP(b, 2, m.cookie) })
	case extKeyShare:
		if m.keyShares == nil {
			return b
		}
		return appendExt(b, typ, func(b []byte) []byte {
			return appendLP(b, 2, func(b []byte) []byte {
				for _, ks := range m.keyShares {
					b = appendU16(b, uint16(ks.group))
					b = appendBytesLP(b, 2, ks.data)
				}
				return b
			})
		})
	case extEarlyData:
		if !m.earlyData {
			return b
		}
		return appendU16(appendU16(b, typ), 0)
	case extPreSharedKey:
		if len(m.pskIdentities) == 0 {
			return b
		}
		return appendExt(b, typ, func(b []byte) []byte {
			b = appendLP(b, 2, func(b []byte) []byte {
				for _, id := range m.pskIdentities {
					b = appendBytesLP(b, 2, id.identity)
					b = appendU32(b, id.age)
				}
				return b
			})
			return appendLP(b, 2, func(b []byte) []byte {
				for _, bd := range m.pskBinders {
					b = appendBytesLP(b, 1, bd)
				}
				return b
			})
		})
	}
	return b
}

// marshal encodes the whole message with its header. When PSKs are
// offered, binders are written as given (zeros for the caller to fill).
// Tests may add raw extensions (extra) and impose a wire order (order).
func (m *clientHello) marshal() ([]byte, error) {
	size := 160 + len(m.transportParams) + len(m.serverName) + 2*len(m.cipherSuites) + 2*len(m.supportedGroups) + len(m.cookie)
	for _, p := range m.alpn {
		size += 1 + len(p)
	}
	for _, e := range m.extra {
		size += 4 + len(e.data)
	}
	for _, ks := range m.keyShares {
		size += 4 + len(ks.data)
	}
	for _, id := range m.pskIdentities {
		size += 40 + len(id.identity) + 64
	}
	return marshalHandshake(typeClientHello, size, func(b []byte) []byte {
		b = appendU16(b, versionTLS12)
		b = append(b, m.random...)
		b = appendBytesLP(b, 1, m.sessionID)
		b = appendLP(b, 2, func(b []byte) []byte {
			for _, s := range m.cipherSuites {
				b = appendU16(b, uint16(s))
			}
			return b
		})
		b = appendBytesLP(b, 1, m.compression)
		return appendLP(b, 2, func(b []byte) []byte {
			if m.extra == nil && m.order == nil {
				for _, typ := range rawExtOrder {
					b = m.appendExtension(b, typ)
				}
				return m.appendExtension(b, extPreSharedKey)
			}
			return m.appendTestExtensions(b)
		})
	})
}

// appendTestExtensions appends our extensions and the test's raw ones, in
// the test's order if it gives one; pre_shared_key stays last.
func (m *clientHello) appendTestExtensions(b []byte) []byte {
	type entry struct {
		typ   uint16
		extra int // index in m.extra, -1 for ours
	}
	var list []entry
	for _, typ := range rawExtOrder {
		list = append(list, entry{typ, -1})
	}
	for i, e := range m.extra {
		list = append(list, entry{e.typ, i})
	}
	if m.order != nil {
		slices.SortStableFunc(list, func(x, y entry) int { return orderIndex(m.order, x.typ) - orderIndex(m.order, y.typ) })
	}
	for _, e := range list {
		if e.extra < 0 {
			b = m.appendExtension(b, e.typ)
			continue
		}
		data := m.extra[e.extra].data
		b = appendExt(b, e.typ, func(b []byte) []byte { return append(b, data...) })
	}
	return m.appendExtension(b, extPreSharedKey)
}

func orderIndex(order []uint16, typ uint16) int {
	if i := slices.Index(order, typ); i >= 0 {
		return i
	}
	return len(order)
}

func (m *serverHello) marshal() ([]byte, error) {
	return marshalHandshake(typeServerHello, 96+len(m.keyShare.data)+len(m.cookie), func(b []byte) []byte {
		b = appendU16(b, versionTLS12)
		b = append(b, m.random...)
		b = appendBytesLP(b, 1, m.sessionID)
		b = appendU16(b, uint16(m.suite))
		b = append(b, m.compression)
		return appendLP(b, 2, func(b []byte) []byte {
			b = appendExt(b, extSupportedVersions, func(b []byte) []byte { return appendU16(b, m.supportedVersion) })
			if m.selectedGroup != 0 {
				b = appendExt(b, extKeyShare, func(b []byte) []byte { return appendU16(b, uint16(m.selectedGroup)) })
			} else if m.keyShare.group != 0 {
				b = appendExt(b, extKeyShare, func(b []byte) []byte {
					b = appendU16(b, uint16(m.keyShare.group))
					return appendBytesLP(b, 2, m.keyShare.data)
				})
			}
			if m.cookie != nil {
				b = appendExt(b, extCookie, func(b []byte) []byte { return appendBytesLP(b, 2, m.cookie) })
			}
			if m.hasPSK {
				b = appendExt(b, extPreSharedKey, func(b []byte) []byte { return appendU16(b, m.selectedIdentity) })
			}
			return b
		})
	})
}

func (m *encryptedExtensions) marshal() ([]byte, error) {
	return marshalHandshake(typeEncryptedExtensions, 64+len(m.alpn)+len(m.transportParams), func(b []byte) []byte {
		return appendLP(b, 2, func(b []byte) []byte {
			if m.alpn != "" {
				b = appendExt(b, extALPN, func(b []byte) []byte { return appendALPN(b, []string{m.alpn}) })
			}
			if m.serverCertType != 0 {
				b = appendExt(b, extServerCertType, func(b []byte) []byte { return append(b, m.serverCertType) })
			}
			if m.clientCertType != 0 {
				b = appendExt(b, extClientCertType, func(b []byte) []byte { return append(b, m.clientCertType) })
			}
			if m.earlyData {
				b = appendU16(appendU16(b, extEarlyData), 0)
			}
			if m.transportParams != nil {
				b = appendExt(b, extQUICTransportParams, func(b []byte) []byte { return append(b, m.transportParams...) })
			}
			return b
		})
	})
}

func (m *certificateRequest) marshal() ([]byte, error) {
	return marshalHandshake(typeCertificateRequest, 16+len(m.context)+2*len(m.signatureAlgorithms), func(b []byte) []byte {
		b = appendBytesLP(b, 1, m.context)
		return appendLP(b, 2, func(b []byte) []byte {
			return appendExt(b, extSignatureAlgorithms, func(b []byte) []byte { return appendSigAlgs(b, m.signatureAlgorithms) })
		})
	})
}

func (m *certificateMsg) marshal() ([]byte, error) {
	size := 8 + len(m.context)
	for _, e := range m.entries {
		size += 5 + len(e)
	}
	return marshalHandshake(typeCertificate, size, func(b []byte) []byte {
		b = appendBytesLP(b, 1, m.context)
		return appendLP(b, 3, func(b []byte) []byte {
			for _, e := range m.entries {
				b = appendBytesLP(b, 3, e)
				b = appendU16(b, 0) // no entry extensions
			}
			return b
		})
	})
}

func (m *certificateVerify) marshal() ([]byte, error) {
	return marshalHandshake(typeCertificateVerify, 4+len(m.signature), func(b []byte) []byte {
		b = appendU16(b, m.algorithm)
		return appendBytesLP(b, 2, m.signature)
	})
}

func (m *finishedMsg) marshal() ([]byte, error) {
	return marshalHandshake(typeFinished, len(m.verifyData), func(b []byte) []byte { return append(b, m.verifyData...) })
}

func (m *newSessionTicket) marshal() ([]byte, error) {
	return marshalHandshake(typeNewSessionTicket, 24+len(m.nonce)+len(m.ticket), func(b []byte) []byte {
		b = appendU32(b, m.lifetime)
		b = appendU32(b, m.ageAdd)
		b = appendBytesLP(b, 1, m.nonce)
		b = appendBytesLP(b, 2, m.ticket)
		return appendLP(b, 2, func(b []byte) []byte {
			if m.maxEarlyData != 0 {
				b = appendExt(b, extEarlyData, func(b []byte) []byte { return appendU32(b, m.maxEarlyData) })
			}
			return b
		})
	})
}
