package tls13

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Handshake message types (RFC 8446 §4).
const (
	typeClientHello         uint8 = 1
	typeServerHello         uint8 = 2
	typeNewSessionTicket    uint8 = 4
	typeEndOfEarlyData      uint8 = 5
	typeEncryptedExtensions uint8 = 8
	typeCertificate         uint8 = 11
	typeCertificateRequest  uint8 = 13
	typeCertificateVerify   uint8 = 15
	typeFinished            uint8 = 20
	typeKeyUpdate           uint8 = 24
	typeMessageHash         uint8 = 254
)

// Extension types.
const (
	extServerName          uint16 = 0
	extStatusRequest       uint16 = 5
	extSupportedGroups     uint16 = 10
	extECPointFormats      uint16 = 11
	extSignatureAlgorithms uint16 = 13
	extALPN                uint16 = 16
	extClientCertType      uint16 = 19
	extServerCertType      uint16 = 20
	extExtendedMasterSec   uint16 = 23
	extPreSharedKey        uint16 = 41
	extEarlyData           uint16 = 42
	extSupportedVersions   uint16 = 43
	extCookie              uint16 = 44
	extPSKModes            uint16 = 45
	extCertAuthorities     uint16 = 47
	extSigAlgsCert         uint16 = 50
	extKeyShare            uint16 = 51
	extQUICTransportParams uint16 = 57
)

const (
	versionTLS12        uint16 = 0x0303
	versionTLS13        uint16 = 0x0304
	sigEd25519          uint16 = 0x0807
	certTypeRawPublic   uint8  = 2
	pskModeDHE          uint8  = 1
	maxEarlyDataQUIC    uint32 = 0xffffffff
	randomSize                 = 32
	handshakeHeaderSize        = 4
)

// hrrRandom is the ServerHello.random that marks a HelloRetryRequest.
var hrrRandom = []byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// Limits on list lengths in messages, far above what iroh peers send, so
// that a message of MaxMessageSize cannot make the parser allocate much
// more than its size.
const (
	maxKeyShares     = 16
	maxALPNProtocols = 64
	maxPSKOffered    = 16
	maxCertEntries   = 16
)

// errDecode is wrapped by every message parse error.
var errDecode = errors.New("malformed")

func decodeErr(msg string, args ...any) error {
	return fmt.Errorf("%w %s", errDecode, fmt.Sprintf(msg, args...))
}

// pskIdentity is one offered PSK (a ticket) and its obfuscated age.
type pskIdentity struct {
	identity []byte
	age      uint32
}

// keyShareEntry is a (group, key_exchange) pair.
type keyShareEntry struct {
	group Group
	data  []byte
}

// clientHello is the parsed or to-be-sent ClientHello.
type clientHello struct {
	random              []byte
	sessionID           []byte
	cipherSuites        []CipherSuite
	compression         []byte
	serverName          string
	supportedGroups     []Group
	signatureAlgorithms []uint16
	alpn                []string
	supportedVersions   []uint16
	keyShares           []keyShareEntry
	pskModes            []uint8
	earlyData           bool
	cookie              []byte
	clientCertTypes     []uint8 // nil: extension absent
	serverCertTypes     []uint8
	transportParams     []byte // nil: extension absent
	pskIdentities       []pskIdentity
	pskBinders          [][]byte
	extensions          []uint16 // types in wire order (parsed only)

	// Tests only: extensions we never send, and a wire order to imitate
	// another implementation's ClientHello.
	extra []rawExt
	order []uint16
}

// rawExt is one encoded extension.
type rawExt struct {
	typ  uint16
	data []byte
}

// bindersLen is the length of the binders list at the end of the message,
// with its 2-byte length prefix.
func (m *clientHello) bindersLen() int {
	n := 2
	for _, b := range m.pskBinders {
		n += 1 + len(b)
	}
	return n
}

// readExtensions walks an extension block, calling f for each extension
// with its data; it rejects duplicates.
func readExtensions(s *cryptobyte.String, f func(typ uint16, data cryptobyte.String) error) error {
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		return decodeErr("extensions block")
	}
	var seen [4]uint64 // bitmap of extension types < 256
	var seenHigh []uint16
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return decodeErr("extension header")
		}
		if typ < 256 {
			if seen[typ/64]&(1<<(typ%64)) != 0 {
				return fmt.Errorf("duplicate extension %d", typ)
			}
			seen[typ/64] |= 1 << (typ % 64)
		} else {
			for _, t := range seenHigh {
				if t == typ {
					return fmt.Errorf("duplicate extension %d", typ)
				}
			}
			if len(seenHigh) < 64 {
				seenHigh = append(seenHigh, typ)
			}
		}
		if err := f(typ, data); err != nil {
			return err
		}
	}
	return nil
}

func readALPN(data cryptobyte.String) ([]string, error) {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() || list.Empty() {
		return nil, decodeErr("alpn extension")
	}
	var out []string
	for !list.Empty() {
		var p cryptobyte.String
		if !list.ReadUint8LengthPrefixed(&p) || p.Empty() {
			return nil, decodeErr("alpn protocol name")
		}
		if len(out) == maxALPNProtocols {
			return nil, decodeErr("alpn: more than %d protocols", maxALPNProtocols)
		}
		out = append(out, string(p))
	}
	return out, nil
}

func readSigAlgs(data cryptobyte.String) ([]uint16, error) {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() || list.Empty() || len(list)%2 != 0 {
		return nil, decodeErr("signature_algorithms extension")
	}
	out := make([]uint16, 0, len(list)/2)
	for !list.Empty() {
		var a uint16
		list.ReadUint16(&a)
		out = append(out, a)
	}
	return out, nil
}

func readCertTypeList(data cryptobyte.String) ([]uint8, error) {
	var list cryptobyte.String
	if !data.ReadUint8LengthPrefixed(&list) || !data.Empty() || list.Empty() {
		return nil, decodeErr("certificate type list")
	}
	return bytes.Clone(list), nil
}

// parseClientHello parses a whole ClientHello message (with its header).
func parseClientHello(msg []byte) (*clientHello, error) {
	s := cryptobyte.String(msg)
	m := &clientHello{}
	var typ uint8
	var body cryptobyte.String
	if !s.ReadUint8(&typ) || typ != typeClientHello || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() {
		return nil, decodeErr("client hello header")
	}
	var version uint16
	var sid, suites, comp cryptobyte.String
	if !body.ReadUint16(&version) || !body.ReadBytes(&m.random, randomSize) ||
		!body.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!body.ReadUint16LengthPrefixed(&suites) || len(suites)%2 != 0 ||
		!body.ReadUint8LengthPrefixed(&comp) {
		return nil, decodeErr("client hello fields")
	}
	m.sessionID = bytes.Clone(sid)
	m.compression = bytes.Clone(comp)
	m.cipherSuites = make([]CipherSuite, 0, len(suites)/2)
	for !suites.Empty() {
		var cs uint16
		suites.ReadUint16(&cs)
		m.cipherSuites = append(m.cipherSuites, CipherSuite(cs))
	}
	m.random = bytes.Clone(m.random)
	if body.Empty() {
		return m, nil // no extensions at all: the server rejects it later
	}
	last := uint16(0)
	err := readExtensions(&body, func(typ uint16, data cryptobyte.String) error {
		if last == extPreSharedKey {
			return fmt.Errorf("pre_shared_key is not the last extension")
		}
		last = typ
		if len(m.extensions) < 64 {
			m.extensions = append(m.extensions, typ)
		}
		var err error
		switch typ {
		case extServerName:
			var list, name cryptobyte.String
			var nameType uint8
			if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() {
				return decodeErr("server_name extension")
			}
			for !list.Empty() {
				if !list.ReadUint8(&nameType) || !list.ReadUint16LengthPrefixed(&name) {
					return decodeErr("server_name entry")
				}
				if nameType == 0 {
					if m.serverName != "" || len(name) == 0 {
						return decodeErr("server_name host name")
					}
					m.serverName = string(name)
				}
			}
		case extSupportedGroups:
			var list cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() || list.Empty() || len(list)%2 != 0 {
				return decodeErr("supported_groups extension")
			}
			for !list.Empty() {
				var g uint16
				list.ReadUint16(&g)
				m.supportedGroups = append(m.supportedGroups, Group(g))
			}
		case extSignatureAlgorithms:
			m.signatureAlgorithms, err = readSigAlgs(data)
		case extALPN:
			m.alpn, err = readALPN(data)
		case extSupportedVersions:
			var list cryptobyte.String
			if !data.ReadUint8LengthPrefixed(&list) || !data.Empty() || list.Empty() || len(list)%2 != 0 {
				return decodeErr("supported_versions extension")
			}
			for !list.Empty() {
				var v uint16
				list.ReadUint16(&v)
				m.supportedVersions = append(m.supportedVersions, v)
			}
		case extKeyShare:
			var list cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&list) || !data.Empty() {
				return decodeErr("key_share extension")
			}
			// Present but possibly empty: a client may ask for a HelloRetryRequest.
			m.keyShares = []keyShareEntry{}
			for !list.Empty() {
				var g uint16
				var ks cryptobyte.String
				if !list.ReadUint16(&g) || !list.ReadUint16LengthPrefixed(&ks) || ks.Empty() {
					return decodeErr("key_share entry")
				}
				if len(m.keyShares) == maxKeyShares {
					return decodeErr("key_share: more than %d shares", maxKeyShares)
				}
				m.keyShares = append(m.keyShares, keyShareEntry{group: Group(g), data: bytes.Clone(ks)})
			}
		case extPSKModes:
			var list cryptobyte.String
			if !data.ReadUint8LengthPrefixed(&list) || !data.Empty() || list.Empty() {
				return decodeErr("psk_key_exchange_modes extension")
			}
			m.pskModes = bytes.Clone(list)
		case extEarlyData:
			if !data.Empty() {
				return decodeErr("early_data extension")
			}
			m.earlyData = true
		case extCookie:
			var c cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&c) || !data.Empty() || c.Empty() {
				return decodeErr("cookie extension")
			}
			m.cookie = bytes.Clone(c)
		case extClientCertType:
			m.clientCertTypes, err = readCertTypeList(data)
		case extServerCertType:
			m.serverCertTypes, err = readCertTypeList(data)
		case extQUICTransportParams:
			m.transportParams = bytes.Clone(data)
		case extPreSharedKey:
			var ids, binders cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&ids) || !data.ReadUint16LengthPrefixed(&binders) || !data.Empty() || ids.Empty() {
				return decodeErr("pre_shared_key extension")
			}
			for !ids.Empty() {
				var id cryptobyte.String
				var age uint32
				if !ids.ReadUint16LengthPrefixed(&id) || id.Empty() || !ids.ReadUint32(&age) {
					return decodeErr("psk identity")
				}
				if len(m.pskIdentities) == maxPSKOffered {
					return decodeErr("pre_shared_key: more than %d identities", maxPSKOffered)
				}
				m.pskIdentities = append(m.pskIdentities, pskIdentity{identity: bytes.Clone(id), age: age})
			}
			for !binders.Empty() {
				var bd cryptobyte.String
				if !binders.ReadUint8LengthPrefixed(&bd) || len(bd) < 32 {
					return decodeErr("psk binder")
				}
				m.pskBinders = append(m.pskBinders, bytes.Clone(bd))
			}
			if len(m.pskBinders) != len(m.pskIdentities) {
				return decodeErr("pre_shared_key: %d identities but %d binders", len(m.pskIdentities), len(m.pskBinders))
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !body.Empty() {
		return nil, decodeErr("client hello: trailing bytes")
	}
	return m, nil
}

// serverHello is a ServerHello or a HelloRetryRequest.
type serverHello struct {
	random           []byte
	sessionID        []byte
	suite            CipherSuite
	compression      uint8
	supportedVersion uint16
	keyShare         keyShareEntry // ServerHello: group and share
	selectedGroup    Group         // HelloRetryRequest: the group wanted
	hasPSK           bool
	selectedIdentity uint16
	cookie           []byte
}

func (m *serverHello) isHRR() bool { return bytes.Equal(m.random, hrrRandom) }

func parseServerHello(msg []byte) (*serverHello, error) {
	s := cryptobyte.String(msg)
	m := &serverHello{}
	var typ uint8
	var body, sid cryptobyte.String
	var version, suite uint16
	if !s.ReadUint8(&typ) || typ != typeServerHello || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() ||
		!body.ReadUint16(&version) || !body.ReadBytes(&m.random, randomSize) ||
		!body.ReadUint8LengthPrefixed(&sid) || len(sid) > 32 ||
		!body.ReadUint16(&suite) || !body.ReadUint8(&m.compression) {
		return nil, decodeErr("server hello fields")
	}
	m.random = bytes.Clone(m.random)
	m.sessionID = bytes.Clone(sid)
	m.suite = CipherSuite(suite)
	hrr := m.isHRR()
	err := readExtensions(&body, func(typ uint16, data cryptobyte.String) error {
		switch typ {
		case extSupportedVersions:
			if !data.ReadUint16(&m.supportedVersion) || !data.Empty() {
				return decodeErr("supported_versions in server hello")
			}
		case extKeyShare:
			var g uint16
			if !data.ReadUint16(&g) {
				return decodeErr("key_share in server hello")
			}
			if hrr {
				if !data.Empty() {
					return decodeErr("key_share in hello retry request")
				}
				m.selectedGroup = Group(g)
				return nil
			}
			var ks cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&ks) || !data.Empty() || ks.Empty() {
				return decodeErr("key_share in server hello")
			}
			m.keyShare = keyShareEntry{group: Group(g), data: bytes.Clone(ks)}
		case extPreSharedKey:
			if !data.ReadUint16(&m.selectedIdentity) || !data.Empty() {
				return decodeErr("pre_shared_key in server hello")
			}
			m.hasPSK = true
		case extCookie:
			var c cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&c) || !data.Empty() || c.Empty() {
				return decodeErr("cookie in hello retry request")
			}
			m.cookie = bytes.Clone(c)
		default:
			return fmt.Errorf("unexpected extension %d in server hello", typ)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !body.Empty() {
		return nil, decodeErr("server hello: trailing bytes")
	}
	return m, nil
}

// encryptedExtensions is the server's EncryptedExtensions.
type encryptedExtensions struct {
	alpn            string
	transportParams []byte // nil: absent
	earlyData       bool
	serverCertType  uint8 // 0: absent
	clientCertType  uint8 // 0: absent
}

// errUnsupportedExt marks an extension a server may not send in
// EncryptedExtensions (unsupported_extension alert).
var errUnsupportedExt = errors.New("unsupported extension")

func parseEncryptedExtensions(msg []byte) (*encryptedExtensions, error) {
	s := cryptobyte.String(msg)
	m := &encryptedExtensions{}
	var typ uint8
	var body cryptobyte.String
	if !s.ReadUint8(&typ) || typ != typeEncryptedExtensions || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() {
		return nil, decodeErr("encrypted extensions header")
	}
	err := readExtensions(&body, func(typ uint16, data cryptobyte.String) error {
		switch typ {
		case extALPN:
			protos, err := readALPN(data)
			if err != nil {
				return err
			}
			if len(protos) != 1 {
				return decodeErr("alpn in encrypted extensions: %d protocols, want 1", len(protos))
			}
			m.alpn = protos[0]
		case extQUICTransportParams:
			m.transportParams = bytes.Clone(data)
		case extEarlyData:
			if !data.Empty() {
				return decodeErr("early_data in encrypted extensions")
			}
			m.earlyData = true
		case extServerCertType, extClientCertType:
			var t uint8
			if !data.ReadUint8(&t) || !data.Empty() || t == 0 {
				return decodeErr("certificate type in encrypted extensions")
			}
			if typ == extServerCertType {
				m.serverCertType = t
			} else {
				m.clientCertType = t
			}
		case extServerName, extSupportedGroups:
			// An empty server_name acknowledgement, or the server's groups: allowed, unused.
		default:
			return fmt.Errorf("%w %d in encrypted extensions", errUnsupportedExt, typ)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !body.Empty() {
		return nil, decodeErr("encrypted extensions: trailing bytes")
	}
	return m, nil
}

// certificateRequest is the server's CertificateRequest.
type certificateRequest struct {
	context             []byte
	signatureAlgorithms []uint16
}

func parseCertificateRequest(msg []byte) (*certificateRequest, error) {
	s := cryptobyte.String(msg)
	m := &certificateRequest{}
	var typ uint8
	var body, ctx cryptobyte.String
	if !s.ReadUint8(&typ) || typ != typeCertificateRequest || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() ||
		!body.ReadUint8LengthPrefixed(&ctx) {
		return nil, decodeErr("certificate request fields")
	}
	m.context = bytes.Clone(ctx)
	err := readExtensions(&body, func(typ uint16, data cryptobyte.String) error {
		if typ == extSignatureAlgorithms {
			var err error
			m.signatureAlgorithms, err = readSigAlgs(data)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !body.Empty() {
		return nil, decodeErr("certificate request: trailing bytes")
	}
	if m.signatureAlgorithms == nil {
		return nil, decodeErr("certificate request without signature_algorithms")
	}
	return m, nil
}

// certificateMsg is a Certificate message: the raw certificate data of
// each entry (extensions of entries are ignored).
type certificateMsg struct {
	context []byte
	entries [][]byte
}

func parseCertificate(msg []byte) (*certificateMsg, error) {
	s := cryptobyte.String(msg)
	m := &certificateMsg{}
	var typ uint8
	var body, ctx, list cryptobyte.String
	if !s.ReadUint8(&typ) || typ != typeCertificate || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() ||
		!body.ReadUint8LengthPrefixed(&ctx) || !body.ReadUint24LengthPrefixed(&list) || !body.Empty() {
		return nil, decodeErr("certificate fields")
	}
	m.context = bytes.Clone(ctx)
	for !list.Empty() {
		var data, exts cryptobyte.String
		if !list.ReadUint24LengthPrefixed(&data) || data.Empty() || !list.ReadUint16LengthPrefixed(&exts) {
			return nil, decodeErr("certificate entry")
		}
		if len(m.entries) == maxCertEntries {
			return nil, decodeErr("certificate: more than %d entries", maxCertEntries)
		}
		m.entries = append(m.entries, bytes.Clone(data))
	}
	return m, nil
}

// certificateVerify is a CertificateVerify message.
type certificateVerify struct {
	algorithm uint16
	signature []byte
}

func parseCertificateVerify(msg []byte) (*certificateVerify, error) {
	s := cryptobyte.String(msg)
	m := &certificateVerify{}
	var typ uint8
	var body, sig cryptobyte.String
	if !s.ReadUint8(&typ) || typ != typeCertificateVerify || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() ||
		!body.ReadUint16(&m.algorithm) || !body.ReadUint16LengthPrefixed(&sig) || !body.Empty() {
		return nil, decodeErr("certificate verify fields")
	}
	m.signature = bytes.Clone(sig)
	return m, nil
}

// finishedMsg is a Finished message.
type finishedMsg struct {
	verifyData []byte
}

func parseFinished(msg []byte) (*finishedMsg, error) {
	if len(msg) < handshakeHeaderSize || msg[0] != typeFinished {
		return nil, decodeErr("finished header")
	}
	s := cryptobyte.String(msg[1:])
	var body cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&body) || !s.Empty() {
		return nil, decodeErr("finished length")
	}
	return &finishedMsg{verifyData: bytes.Clone(body)}, nil
}

// newSessionTicket is a NewSessionTicket message.
type newSessionTicket struct {
	lifetime     uint32
	ageAdd       uint32
	nonce        []byte
	ticket       []byte
	maxEarlyData uint32 // 0: no early_data extension
}

func parseNewSessionTicket(msg []byte) (*newSessionTicket, error) {
	s := cryptobyte.String(msg)
	m := &newSessionTicket{}
	var typ uint8
	var body, nonce, ticket cryptobyte.String
	if !s.ReadUint8(&typ) || typ != typeNewSessionTicket || !s.ReadUint24LengthPrefixed(&body) || !s.Empty() ||
		!body.ReadUint32(&m.lifetime) || !body.ReadUint32(&m.ageAdd) ||
		!body.ReadUint8LengthPrefixed(&nonce) || !body.ReadUint16LengthPrefixed(&ticket) || ticket.Empty() {
		return nil, decodeErr("new session ticket fields")
	}
	m.nonce = bytes.Clone(nonce)
	m.ticket = bytes.Clone(ticket)
	err := readExtensions(&body, func(typ uint16, data cryptobyte.String) error {
		if typ == extEarlyData {
			if !data.ReadUint32(&m.maxEarlyData) || !data.Empty() {
				return decodeErr("early_data in new session ticket")
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !body.Empty() {
		return nil, decodeErr("new session ticket: trailing bytes")
	}
	return m, nil
}
