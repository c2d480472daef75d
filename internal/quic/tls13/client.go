package tls13

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/iroh-go/iroh/key"
)

func (c *Conn) clientStart() error {
	want, err := key.ParseSNIName(c.cfg.ServerName)
	if err != nil {
		return alertf(AlertInternalError, "config: server name %q is not an iroh endpoint name: %v", c.cfg.ServerName, err)
	}
	c.wantKey = want
	c.serverName = c.cfg.ServerName

	random := make([]byte, randomSize)
	if _, err := io.ReadFull(c.rand, random); err != nil {
		return alertf(AlertInternalError, "random: %v", err)
	}
	shareGroups := c.cfg.KeyShares
	if shareGroups == nil {
		shareGroups = DefaultKeyShares
	}
	for _, g := range shareGroups {
		if !slices.Contains(c.groups, g) {
			continue
		}
		ks, err := generateKeyShare(g, c.rand)
		if err != nil {
			return alertf(AlertInternalError, "key share %v: %v", g, err)
		}
		c.shares = append(c.shares, ks)
	}
	if len(c.shares) == 0 {
		// No share among Groups: offer the first group's, never an empty list.
		ks, err := generateKeyShare(c.groups[0], c.rand)
		if err != nil {
			return alertf(AlertInternalError, "key share %v: %v", c.groups[0], err)
		}
		c.shares = append(c.shares, ks)
	}
	tp := c.cfg.TransportParameters
	if tp == nil {
		tp = []byte{}
	}
	c.clientRandom = random
	c.hello = &clientHello{
		random:              random,
		cipherSuites:        c.suites,
		compression:         []byte{0},
		serverName:          c.cfg.ServerName,
		supportedGroups:     c.groups,
		signatureAlgorithms: []uint16{sigEd25519},
		alpn:                c.cfg.ALPNs,
		supportedVersions:   []uint16{versionTLS13},
		pskModes:            []uint8{pskModeDHE},
		clientCertTypes:     []uint8{certTypeRawPublic},
		serverCertTypes:     []uint8{certTypeRawPublic},
		transportParams:     tp,
	}
	for _, ks := range c.shares {
		c.hello.keyShares = append(c.hello.keyShares, keyShareEntry{group: ks.group, data: ks.share})
	}
	if c.cfg.SessionCache != nil {
		if s := c.cfg.SessionCache.Take(c.cfg.ServerName, c.now()); s != nil && slices.Contains(c.suites, s.Suite) && s.ServerKey == want {
			c.session = s
			if c.cfg.EnableEarlyData && s.EarlyData && s.ALPN == c.cfg.ALPNs[0] {
				c.hello.earlyData = true
				c.early = earlyOffered
			}
		}
	}
	if c.testHello != nil {
		c.testHello(c.hello)
	}
	raw, err := c.marshalHello()
	if err != nil {
		return err
	}
	c.ts.add(raw)
	c.writeData(LevelInitial, raw)
	if c.early == earlyOffered {
		h := c.session.Suite
		secret := deriveSecret(h, earlySecret(h, c.session.psk), labelClientEarly, c.ts.sum(h))
		c.setSecret(EventSetWriteSecret, LevelEarly, c.session.Suite, secret)
		c.peerKey = c.session.ServerKey
	}
	c.state = stateWaitServerHello
	return nil
}

// marshalHello encodes c.hello, with the PSK binder computed over the
// transcript so far when a session is offered.
func (c *Conn) marshalHello() ([]byte, error) {
	s := c.session
	c.hello.pskIdentities, c.hello.pskBinders = nil, nil
	if s != nil {
		h := s.Suite
		age := uint32(c.now().Sub(s.receivedAt)/time.Millisecond) + s.ageAdd
		c.hello.pskIdentities = []pskIdentity{{identity: s.ticket, age: age}}
		c.hello.pskBinders = [][]byte{make([]byte, h.Hash().Size())}
	}
	raw, err := c.hello.marshal()
	if err != nil {
		return nil, alertf(AlertInternalError, "client hello: %v", err)
	}
	if s != nil {
		h := s.Suite
		binderKey := deriveSecret(h, earlySecret(h, s.psk), labelResBinder, emptyHash(h))
		truncated := raw[:len(raw)-c.hello.bindersLen()]
		binder := finishedMAC(h, binderKey, c.ts.sumWith(h, truncated))
		copy(raw[len(raw)-len(binder):], binder)
	}
	return raw, nil
}

func (c *Conn) clientHandle(typ uint8, msg []byte) error {
	switch c.state {
	case stateWaitServerHello:
		if typ != typeServerHello {
			return alertf(AlertUnexpectedMessage, "got handshake message type %d, want ServerHello", typ)
		}
		return c.handleServerHello(msg)
	case stateWaitEncryptedExtensions:
		if typ != typeEncryptedExtensions {
			return alertf(AlertUnexpectedMessage, "got handshake message type %d, want EncryptedExtensions", typ)
		}
		return c.handleEncryptedExtensions(msg)
	case stateWaitCertOrCertRequest:
		switch typ {
		case typeCertificateRequest:
			return c.handleCertificateRequest(msg)
		case typeCertificate:
			return c.handleServerCertificate(msg)
		}
		return alertf(AlertUnexpectedMessage, "got handshake message type %d, want CertificateRequest or Certificate", typ)
	case stateWaitServerCert:
		if typ != typeCertificate {
			return alertf(AlertUnexpectedMessage, "got handshake message type %d, want Certificate", typ)
		}
		return c.handleServerCertificate(msg)
	case stateWaitServerCertVerify:
		if typ != typeCertificateVerify {
			return alertf(AlertUnexpectedMessage, "got handshake message type %d, want CertificateVerify", typ)
		}
		if err := verifyPeerSignature(msg, c.peerKey, true, c.ts.sum(c.suite)); err != nil {
			return err
		}
		c.ts.add(msg)
		c.state = stateWaitServerFinished
		return nil
	case stateWaitServerFinished:
		if typ != typeFinished {
			return alertf(AlertUnexpectedMessage, "got handshake message type %d, want Finished", typ)
		}
		return c.handleServerFinished(msg)
	case stateDone:
		if typ != typeNewSessionTicket {
			return alertf(AlertUnexpectedMessage, "got handshake message type %d after the handshake", typ)
		}
		return c.handleNewSessionTicket(msg)
	}
	return alertf(AlertUnexpectedMessage, "unexpected handshake message type %d", typ)
}

func (c *Conn) handleServerHello(msg []byte) error {
	sh, err := parseServerHello(msg)
	if err != nil {
		if errors.Is(err, errDecode) {
			return alertf(AlertDecodeError, "server hello: %v", err)
		}
		return alertf(AlertIllegalParameter, "server hello: %v", err)
	}
	if sh.supportedVersion != versionTLS13 {
		return alertf(AlertProtocolVersion, "server selected version %#04x, want TLS 1.3", sh.supportedVersion)
	}
	if len(sh.sessionID) != 0 || sh.compression != 0 {
		return alertf(AlertIllegalParameter, "server hello echoes a session id or compression we did not send")
	}
	if !slices.Contains(c.suites, sh.suite) {
		return alertf(AlertIllegalParameter, "server selected cipher suite %v, which we did not offer", sh.suite)
	}
	if c.hrr && sh.suite != c.suite {
		return alertf(AlertIllegalParameter, "server selected %v after asking for %v in its HelloRetryRequest", sh.suite, c.suite)
	}
	if sh.isHRR() {
		return c.handleHelloRetryRequest(sh, msg)
	}
	c.suite = sh.suite
	var ks *keyShare
	for _, s := range c.shares {
		if s.group == sh.keyShare.group {
			ks = s
		}
	}
	if ks == nil {
		return alertf(AlertIllegalParameter, "server key share is for group %v, which we did not send", sh.keyShare.group)
	}
	if sh.hasPSK {
		if c.session == nil || sh.selectedIdentity != 0 {
			return alertf(AlertIllegalParameter, "server selected PSK %d, which we did not offer", sh.selectedIdentity)
		}
		if c.session.Suite.Hash() != sh.suite.Hash() {
			return alertf(AlertIllegalParameter, "server resumed a %v session with %v", c.session.Suite, sh.suite)
		}
		c.resumed = true
		c.psk = c.session.psk
	}
	c.group = ks.group
	shared, err := ks.finish(sh.keyShare.data)
	if err != nil {
		return alertf(AlertIllegalParameter, "server key share: %v", err)
	}
	c.ts.add(msg)
	hs := nextSecret(c.suite, earlySecret(c.suite, c.psk), shared)
	th := c.ts.sum(c.suite)
	c.cHS = deriveSecret(c.suite, hs, labelClientHandshake, th)
	c.sHS = deriveSecret(c.suite, hs, labelServerHandshake, th)
	c.master = nextSecret(c.suite, hs, nil)
	c.setSecret(EventSetReadSecret, LevelHandshake, c.suite, c.sHS)
	c.setSecret(EventSetWriteSecret, LevelHandshake, c.suite, c.cHS)
	c.shares = nil
	c.state = stateWaitEncryptedExtensions
	return nil
}

func (c *Conn) handleHelloRetryRequest(sh *serverHello, msg []byte) error {
	if c.hrr {
		return alertf(AlertUnexpectedMessage, "second HelloRetryRequest")
	}
	c.hrr = true
	g := sh.selectedGroup
	if g == 0 && sh.cookie == nil {
		return alertf(AlertIllegalParameter, "HelloRetryRequest asks for nothing")
	}
	if g != 0 {
		if !slices.Contains(c.groups, g) {
			return alertf(AlertIllegalParameter, "HelloRetryRequest asks for group %v, which we did not offer", g)
		}
		for _, s := range c.shares {
			if s.group == g {
				return alertf(AlertIllegalParameter, "HelloRetryRequest asks for group %v, which we already sent a share for", g)
			}
		}
		ks, err := generateKeyShare(g, c.rand)
		if err != nil {
			return alertf(AlertInternalError, "key share %v: %v", g, err)
		}
		c.shares = []*keyShare{ks}
		c.hello.keyShares = []keyShareEntry{{group: g, data: ks.share}}
	}
	c.suite = sh.suite
	c.ts.restartForHRR(c.suite)
	c.ts.add(msg)
	if c.early == earlyOffered {
		c.early = earlyRejected
		c.emit(Event{Kind: EventEarlyDataRejected})
	}
	c.hello.earlyData = false
	c.hello.cookie = sh.cookie
	if c.session != nil && c.session.Suite.Hash() != sh.suite.Hash() {
		c.session = nil
	}
	raw, err := c.marshalHello()
	if err != nil {
		return err
	}
	c.ts.add(raw)
	c.writeData(LevelInitial, raw)
	return nil
}

func (c *Conn) handleEncryptedExtensions(msg []byte) error {
	ee, err := parseEncryptedExtensions(msg)
	if err != nil {
		switch {
		case errors.Is(err, errUnsupportedExt):
			return alertf(AlertUnsupportedExtension, "server sent %v", err)
		case errors.Is(err, errDecode):
			return alertf(AlertDecodeError, "encrypted extensions: %v", err)
		}
		return alertf(AlertIllegalParameter, "encrypted extensions: %v", err)
	}
	if ee.alpn == "" {
		return alertf(AlertNoApplicationProtocol, "server selected no ALPN")
	}
	if !slices.Contains(c.cfg.ALPNs, ee.alpn) {
		return alertf(AlertIllegalParameter, "server selected ALPN %q, which we did not offer", ee.alpn)
	}
	if ee.transportParams == nil {
		return alertf(AlertMissingExtension, "server sent no quic_transport_parameters")
	}
	if ee.serverCertType != 0 && ee.serverCertType != certTypeRawPublic {
		return alertf(AlertUnsupportedCertificate, "server selected server certificate type %d, we offered only raw public keys", ee.serverCertType)
	}
	if ee.clientCertType != 0 && ee.clientCertType != certTypeRawPublic {
		return alertf(AlertUnsupportedCertificate, "server selected client certificate type %d, we offered only raw public keys", ee.clientCertType)
	}
	switch {
	case ee.earlyData && c.early != earlyOffered:
		return alertf(AlertUnsupportedExtension, "server accepted early data we did not offer")
	case ee.earlyData:
		if !c.resumed {
			return alertf(AlertIllegalParameter, "server accepted early data without resuming the session")
		}
		if ee.alpn != c.session.ALPN {
			return alertf(AlertIllegalParameter, "server accepted 0-RTT but selected ALPN %q, not the session's %q", ee.alpn, c.session.ALPN)
		}
		c.early = earlyAccepted
		c.emit(Event{Kind: EventEarlyDataAccepted})
	case c.early == earlyOffered:
		c.early = earlyRejected
		c.emit(Event{Kind: EventEarlyDataRejected})
	}
	c.alpn = ee.alpn
	c.peerTP = ee.transportParams
	c.ts.add(msg)
	c.emit(Event{Kind: EventPeerTransportParameters, Data: bytes.Clone(ee.transportParams)})
	if c.resumed {
		c.peerKey = c.session.ServerKey
		c.state = stateWaitServerFinished
	} else {
		c.state = stateWaitCertOrCertRequest
	}
	return nil
}

func (c *Conn) handleCertificateRequest(msg []byte) error {
	cr, err := parseCertificateRequest(msg)
	if err != nil {
		return alertf(AlertDecodeError, "certificate request: %v", err)
	}
	if len(cr.context) != 0 {
		return alertf(AlertIllegalParameter, "certificate request has a context of %d bytes during the handshake", len(cr.context))
	}
	if !slices.Contains(cr.signatureAlgorithms, sigEd25519) {
		return alertf(AlertHandshakeFailure, "server does not accept ed25519 client signatures")
	}
	c.certAsked = true
	c.ts.add(msg)
	c.state = stateWaitServerCert
	return nil
}

func (c *Conn) handleServerCertificate(msg []byte) error {
	k, err := peerCertificate(msg, "server")
	if err != nil {
		return err
	}
	if k != c.wantKey {
		// unknown_ca, as Rust iroh sends for a key it did not dial.
		return alertf(AlertUnknownCA, "server key %s does not match dialed id %s", k.String(), c.wantKey.String())
	}
	c.peerKey = k
	c.ts.add(msg)
	c.state = stateWaitServerCertVerify
	return nil
}

func (c *Conn) handleServerFinished(msg []byte) error {
	if err := c.checkFinished(msg, c.sHS, "server"); err != nil {
		return err
	}
	th := c.ts.sum(c.suite)
	c.cAP = deriveSecret(c.suite, c.master, labelClientApp, th)
	c.sAP = deriveSecret(c.suite, c.master, labelServerApp, th)
	c.setSecret(EventSetReadSecret, LevelApplication, c.suite, c.sAP)
	var flight []byte
	var err error
	if c.certAsked {
		if flight, err = c.appendCertificateFlight(flight, false); err != nil {
			return alertf(AlertInternalError, "certificate: %v", err)
		}
	}
	if flight, err = c.appendFinished(flight, c.cHS); err != nil {
		return alertf(AlertInternalError, "finished: %v", err)
	}
	c.writeData(LevelHandshake, flight)
	c.setSecret(EventSetWriteSecret, LevelApplication, c.suite, c.cAP)
	c.resMS = deriveSecret(c.suite, c.master, labelResMaster, c.ts.sum(c.suite))
	c.finishHandshake()
	c.emit(Event{Kind: EventHandshakeDone})
	return nil
}

// finishHandshake drops what is no longer needed.
func (c *Conn) finishHandshake() {
	c.state = stateDone
	c.ts = transcript{}
	c.hello = nil
	c.master, c.cHS, c.sHS, c.psk = nil, nil, nil, nil
}

func (c *Conn) handleNewSessionTicket(msg []byte) error {
	nst, err := parseNewSessionTicket(msg)
	if err != nil {
		return alertf(AlertDecodeError, "new session ticket: %v", err)
	}
	if nst.maxEarlyData != 0 && nst.maxEarlyData != maxEarlyDataQUIC {
		return alertf(AlertIllegalParameter, "ticket allows %d bytes of early data; QUIC requires 0xffffffff (RFC 9001 §4.6.1)", nst.maxEarlyData)
	}
	lifetime := time.Duration(nst.lifetime) * time.Second
	if lifetime > maxTicketLifetime {
		return alertf(AlertIllegalParameter, "ticket lifetime %v exceeds 7 days", lifetime)
	}
	if lifetime == 0 || c.cfg.SessionCache == nil {
		return nil
	}
	c.cfg.SessionCache.Put(c.serverName, &Session{
		Suite:               c.suite,
		ALPN:                c.alpn,
		ServerKey:           c.peerKey,
		TransportParameters: bytes.Clone(c.peerTP),
		EarlyData:           nst.maxEarlyData == maxEarlyDataQUIC,
		psk:                 resumptionPSK(c.suite, c.resMS, nst.nonce),
		ticket:              nst.ticket,
		ageAdd:              nst.ageAdd,
		lifetime:            lifetime,
		receivedAt:          c.now(),
	})
	c.emit(Event{Kind: EventSessionTicketStored})
	return nil
}
