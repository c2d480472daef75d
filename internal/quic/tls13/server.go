package tls13

import (
	"bytes"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

func (c *Conn) serverHandle(typ uint8, msg []byte) error {
	switch c.state {
	case stateWaitClientHello:
		if typ != typeClientHello {
			return alertf(AlertUnexpectedMessage, "got handshake message type %d, want ClientHello", typ)
		}
		if err := c.checkConfig(); err != nil {
			return err
		}
		return c.handleClientHello(msg)
	case stateWaitClientCert:
		if typ != typeCertificate {
			return alertf(AlertCertificateRequired, "got handshake message type %d, want the client's Certificate", typ)
		}
		k, err := peerCertificate(msg, "client")
		if err != nil {
			return err
		}
		c.peerKey = k
		c.ts.add(msg)
		c.state = stateWaitClientCertVerify
		return nil
	case stateWaitClientCertVerify:
		if typ != typeCertificateVerify {
			return alertf(AlertUnexpectedMessage, "got handshake message type %d, want CertificateVerify", typ)
		}
		if err := verifyPeerSignature(msg, c.peerKey, false, c.ts.sum(c.suite)); err != nil {
			return err
		}
		c.ts.add(msg)
		c.state = stateWaitClientFinished
		return nil
	case stateWaitClientFinished:
		if typ != typeFinished {
			return alertf(AlertUnexpectedMessage, "got handshake message type %d, want Finished", typ)
		}
		if err := c.checkFinished(msg, c.cHS, "client"); err != nil {
			return err
		}
		c.resMS = deriveSecret(c.suite, c.master, labelResMaster, c.ts.sum(c.suite))
		c.setSecret(EventSetReadSecret, LevelApplication, c.suite, c.cAP)
		c.finishHandshake()
		c.emit(Event{Kind: EventHandshakeDone})
		return nil
	}
	return alertf(AlertUnexpectedMessage, "got handshake message type %d after the handshake", typ)
}

// selectALPN picks the client's most preferred protocol that we serve.
func selectALPN(client, ours []string) string {
	for _, p := range client {
		if slices.Contains(ours, p) {
			return p
		}
	}
	return ""
}

func (c *Conn) handleClientHello(msg []byte) error {
	ch, err := parseClientHello(msg)
	if err != nil {
		if errors.Is(err, errDecode) {
			return alertf(AlertDecodeError, "client hello: %v", err)
		}
		return alertf(AlertIllegalParameter, "client hello: %v", err)
	}
	if !slices.Contains(ch.supportedVersions, versionTLS13) {
		return alertf(AlertProtocolVersion, "client does not offer TLS 1.3 (supported_versions %x)", ch.supportedVersions)
	}
	if !bytes.Equal(ch.compression, []byte{0}) {
		return alertf(AlertIllegalParameter, "client offers compression methods %x, want only null", ch.compression)
	}
	if len(ch.sessionID) != 0 {
		return alertf(AlertIllegalParameter, "client sent a legacy session id, forbidden in QUIC (RFC 9001 §8.4)")
	}
	if c.hrr && ch.earlyData {
		return alertf(AlertIllegalParameter, "client offers early data after a HelloRetryRequest")
	}

	// Cipher suite: the client's order among ours (as rustls by default).
	suite := CipherSuite(0)
	for _, s := range ch.cipherSuites {
		if slices.Contains(c.suites, s) {
			suite = s
			break
		}
	}
	if suite == 0 {
		return alertf(AlertHandshakeFailure, "no common cipher suite: client offers %v", ch.cipherSuites)
	}
	if c.hrr && suite != c.suite {
		return alertf(AlertIllegalParameter, "second client hello changes the cipher suite to %v", suite)
	}
	if ch.signatureAlgorithms == nil {
		return alertf(AlertMissingExtension, "client sent no signature_algorithms")
	}
	if !slices.Contains(ch.signatureAlgorithms, sigEd25519) {
		return alertf(AlertHandshakeFailure, "client does not accept ed25519 signatures")
	}
	if !slices.Contains(ch.serverCertTypes, certTypeRawPublic) {
		return alertf(AlertUnsupportedCertificate, "client does not accept a raw public key server certificate (server_certificate_type %v)", ch.serverCertTypes)
	}
	if !slices.Contains(ch.clientCertTypes, certTypeRawPublic) {
		return alertf(AlertUnsupportedCertificate, "client cannot send a raw public key certificate (client_certificate_type %v)", ch.clientCertTypes)
	}
	alpn := selectALPN(ch.alpn, c.cfg.ALPNs)
	if alpn == "" {
		return alertf(AlertNoApplicationProtocol, "no common ALPN: client offers %q, we serve %q", ch.alpn, c.cfg.ALPNs)
	}
	if ch.transportParams == nil {
		return alertf(AlertMissingExtension, "client sent no quic_transport_parameters")
	}
	if ch.supportedGroups == nil || ch.keyShares == nil {
		return alertf(AlertMissingExtension, "client sent no supported_groups or key_share (PSK-only key exchange is not supported)")
	}

	// Group: our most preferred one the client supports.
	group := Group(0)
	for _, g := range c.groups {
		if slices.Contains(ch.supportedGroups, g) {
			group = g
			break
		}
	}
	if group == 0 {
		return alertf(AlertHandshakeFailure, "no common key exchange group: client offers %v", ch.supportedGroups)
	}
	var clientShare []byte
	for i, ks := range ch.keyShares {
		if slices.ContainsFunc(ch.keyShares[:i], func(o keyShareEntry) bool { return o.group == ks.group }) {
			return alertf(AlertIllegalParameter, "two key shares for group %v", ks.group)
		}
		if ks.group == group {
			clientShare = ks.data
		}
	}
	c.suite = suite
	if clientShare == nil {
		if c.hrr {
			return alertf(AlertIllegalParameter, "second client hello has no key share for %v, which we asked for", group)
		}
		return c.sendHelloRetryRequest(msg, ch, group)
	}
	if c.hrr && group != c.hrrGroup {
		return alertf(AlertIllegalParameter, "second client hello changed groups")
	}
	c.serverName = ch.serverName
	c.clientRandom = ch.random
	c.alpn = alpn
	c.peerTP = ch.transportParams

	// Resumption.
	ticket, pskIndex, err := c.selectPSK(ch, msg)
	if err != nil {
		return err
	}
	if ticket != nil {
		c.resumed = true
		c.psk = ticket.psk
		c.peerKey = ticket.clientKey
		c.ticketData = ticket.appData
	}
	if ch.earlyData {
		c.early = earlyRejected
		if ticket != nil && pskIndex == 0 && c.acceptEarly(ch, ticket) {
			c.early = earlyAccepted
		}
	}

	c.group = group
	share, shared, err := serverKeyExchange(group, clientShare, c.rand)
	if err != nil {
		return alertf(AlertIllegalParameter, "client key share: %v", err)
	}
	c.ts.add(msg)
	early := earlySecret(c.suite, c.psk)
	if c.early == earlyAccepted {
		secret := deriveSecret(c.suite, early, labelClientEarly, c.ts.sum(c.suite))
		c.setSecret(EventSetReadSecret, LevelEarly, c.suite, secret)
		c.emit(Event{Kind: EventEarlyDataAccepted})
	} else if ch.earlyData {
		// (After a HelloRetryRequest, sendHelloRetryRequest said it already.)
		c.emit(Event{Kind: EventEarlyDataRejected})
	}
	c.emit(Event{Kind: EventPeerTransportParameters, Data: bytes.Clone(ch.transportParams)})

	random := make([]byte, randomSize)
	if _, err := io.ReadFull(c.rand, random); err != nil {
		return alertf(AlertInternalError, "random: %v", err)
	}
	sh := &serverHello{
		random:           random,
		suite:            suite,
		supportedVersion: versionTLS13,
		keyShare:         keyShareEntry{group: group, data: share},
		hasPSK:           ticket != nil,
		selectedIdentity: uint16(pskIndex),
	}
	shRaw, err := sh.marshal()
	if err != nil {
		return alertf(AlertInternalError, "server hello: %v", err)
	}
	c.ts.add(shRaw)
	c.writeData(LevelInitial, shRaw)

	hs := nextSecret(c.suite, early, shared)
	th := c.ts.sum(c.suite)
	c.cHS = deriveSecret(c.suite, hs, labelClientHandshake, th)
	c.sHS = deriveSecret(c.suite, hs, labelServerHandshake, th)
	c.master = nextSecret(c.suite, hs, nil)
	c.setSecret(EventSetWriteSecret, LevelHandshake, c.suite, c.sHS)
	c.setSecret(EventSetReadSecret, LevelHandshake, c.suite, c.cHS)

	tp := c.cfg.TransportParameters
	if tp == nil {
		tp = []byte{}
	}
	// The certificate types are echoed on resumption too: rustls clients
	// fail without them (IncorrectCertificateTypeExtension).
	ee := &encryptedExtensions{alpn: alpn, transportParams: tp, earlyData: c.early == earlyAccepted,
		serverCertType: certTypeRawPublic, clientCertType: certTypeRawPublic}
	flight, err := ee.marshal()
	if err != nil {
		return alertf(AlertInternalError, "encrypted extensions: %v", err)
	}
	c.ts.add(flight)
	if !c.resumed {
		cr, err := (&certificateRequest{signatureAlgorithms: []uint16{sigEd25519}}).marshal()
		if err != nil {
			return alertf(AlertInternalError, "certificate request: %v", err)
		}
		c.ts.add(cr)
		flight = append(flight, cr...)
		if flight, err = c.appendCertificateFlight(flight, true); err != nil {
			return alertf(AlertInternalError, "certificate: %v", err)
		}
	}
	if flight, err = c.appendFinished(flight, c.sHS); err != nil {
		return alertf(AlertInternalError, "finished: %v", err)
	}
	c.writeData(LevelHandshake, flight)
	th = c.ts.sum(c.suite)
	c.cAP = deriveSecret(c.suite, c.master, labelClientApp, th)
	c.sAP = deriveSecret(c.suite, c.master, labelServerApp, th)
	c.setSecret(EventSetWriteSecret, LevelApplication, c.suite, c.sAP)
	if c.resumed {
		c.state = stateWaitClientFinished
	} else {
		c.state = stateWaitClientCert
	}
	return nil
}

func (c *Conn) sendHelloRetryRequest(msg []byte, ch *clientHello, group Group) error {
	c.hrr = true
	c.hrrGroup = group
	c.ts.add(msg)
	c.ts.restartForHRR(c.suite)
	hrr := &serverHello{
		random:           hrrRandom,
		suite:            c.suite,
		supportedVersion: versionTLS13,
		selectedGroup:    group,
	}
	raw, err := hrr.marshal()
	if err != nil {
		return alertf(AlertInternalError, "hello retry request: %v", err)
	}
	c.ts.add(raw)
	c.writeData(LevelInitial, raw)
	if ch.earlyData {
		c.early = earlyRejected
		c.emit(Event{Kind: EventEarlyDataRejected})
	}
	return nil
}

// selectPSK returns the first offered ticket we can resume, after checking
// its binder, and its index; nil if none. A bad binder is fatal.
func (c *Conn) selectPSK(ch *clientHello, msg []byte) (*ticketState, int, error) {
	if c.cfg.TicketKeys == nil || len(ch.pskIdentities) == 0 || !slices.Contains(ch.pskModes, pskModeDHE) {
		return nil, 0, nil
	}
	now := c.now()
	for i, id := range ch.pskIdentities {
		if i >= maxPSKIdentities {
			break
		}
		st, err := c.cfg.TicketKeys.open(id.identity)
		if err != nil {
			continue
		}
		if now.Sub(st.created) >= st.lifetime || st.suite.Hash() != c.suite.Hash() {
			continue
		}
		binderKey := deriveSecret(c.suite, earlySecret(c.suite, st.psk), labelResBinder, emptyHash(c.suite))
		truncated := msg[:len(msg)-ch.bindersLen()]
		want := finishedMAC(c.suite, binderKey, c.ts.sumWith(c.suite, truncated))
		if !hmac.Equal(ch.pskBinders[i], want) {
			return nil, 0, alertf(AlertDecryptError, "PSK binder %d does not verify", i)
		}
		if !c.cfg.TicketKeys.redeem(st, now) {
			// Replayed (or the replay table is full): a full handshake instead.
			return nil, 0, nil
		}
		// The client's view of the ticket's age, in ms (RFC 8446 §4.2.11.1).
		st.clientAge = time.Duration(id.age-st.ageAdd) * time.Millisecond
		return st, i, nil
	}
	return nil, 0, nil
}

// earlyDataForALPN reports whether the server allows 0-RTT on the
// negotiated ALPN.
func (c *Conn) earlyDataForALPN() bool {
	return c.cfg.EnableEarlyData && (c.cfg.EarlyDataALPN == nil || c.cfg.EarlyDataALPN(c.alpn))
}

// acceptEarly decides 0-RTT for a resumed ticket (RFC 8446 §4.2.10).
func (c *Conn) acceptEarly(ch *clientHello, st *ticketState) bool {
	if !c.earlyDataForALPN() || !st.earlyData || c.hrr || st.suite != c.suite || st.alpn != c.alpn {
		return false
	}
	d := st.clientAge - c.now().Sub(st.created)
	if d > earlyDataAgeWindow || d < -earlyDataAgeWindow {
		return false
	}
	return c.cfg.AcceptEarlyData == nil || c.cfg.AcceptEarlyData(st.appData)
}

// SendSessionTicket (server only, after EventHandshakeDone) issues a
// NewSessionTicket at the Application level: drain NextEvent for its
// WriteData. It needs Config.TicketKeys.
func (c *Conn) SendSessionTicket() error {
	if c.err != nil {
		return c.err
	}
	switch {
	case c.isClient:
		return fmt.Errorf("tls13: SendSessionTicket on a client")
	case c.state != stateDone:
		return fmt.Errorf("tls13: SendSessionTicket before the handshake is done")
	case c.cfg.TicketKeys == nil:
		return fmt.Errorf("tls13: SendSessionTicket without Config.TicketKeys")
	}
	var nonce [8]byte
	binary.BigEndian.PutUint64(nonce[:], c.ticketNonce)
	c.ticketNonce++
	var ageAdd [4]byte
	if _, err := io.ReadFull(c.rand, ageAdd[:]); err != nil {
		return fmt.Errorf("tls13: random: %w", err)
	}
	st := &ticketState{
		suite:     c.suite,
		created:   c.now(),
		ageAdd:    u32(ageAdd[:]),
		lifetime:  TicketLifetime,
		earlyData: c.earlyDataForALPN(),
		psk:       resumptionPSK(c.suite, c.resMS, nonce[:]),
		alpn:      c.alpn,
		clientKey: c.peerKey,
		appData:   c.cfg.TicketData,
	}
	ticket, err := c.cfg.TicketKeys.seal(st, c.rand)
	if err != nil {
		return fmt.Errorf("tls13: seal ticket: %w", err)
	}
	nst := &newSessionTicket{
		lifetime: uint32(TicketLifetime / time.Second),
		ageAdd:   st.ageAdd,
		nonce:    nonce[:],
		ticket:   ticket,
	}
	if st.earlyData {
		nst.maxEarlyData = maxEarlyDataQUIC
	}
	raw, err := nst.marshal()
	if err != nil {
		return fmt.Errorf("tls13: new session ticket: %w", err)
	}
	c.writeData(LevelApplication, raw)
	return nil
}
