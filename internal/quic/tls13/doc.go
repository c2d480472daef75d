// Package tls13 is TLS 1.3 for QUIC (RFC 8446, RFC 9001) with raw public
// keys (RFC 7250), as iroh endpoints speak it: I/O-free, with no record
// layer. Handshake bytes go in and out per encryption level; traffic
// secrets come out for the QUIC packet protection to use. Go's crypto/tls
// cannot do this (it has no RFC 7250), so this is our own, built only on
// standard library primitives and x/crypto/cryptobyte.
//
// # The iroh TLS profile
//
// Both sides authenticate with an Ed25519 key (their EndpointID): the
// Certificate message carries exactly one entry, the 44-byte
// SubjectPublicKeyInfo 302a300506032b6570032100 || key, negotiated by
// client_certificate_type and server_certificate_type = [RawPublicKey];
// CertificateVerify is ed25519 (0x0807) only, verified strictly
// (key.PublicKey.Verify, as dalek's verify_strict). The server always
// requests a client certificate and fails a client without one
// (certificate_required). The client dials "<base32hex id>.iroh.invalid"
// (key.PublicKey.SNIName) and fails unless the server's key is that id.
// ALPN is mandatory: the client offers its list in order of preference, the
// server takes the first it serves, else no_application_protocol (QUIC
// error 0x178). quic_transport_parameters travels both ways as opaque
// bytes; missing, it is missing_extension. See shared/spec/core.md §6.1-6.3.
//
// Cipher suites are offered in Rust iroh's order, TLS_AES_256_GCM_SHA384,
// TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256; the server follows
// the client's order. Groups: X25519MLKEM768, x25519, secp256r1 and
// secp384r1. A client sends key shares for X25519MLKEM768 and x25519
// (DefaultKeyShares): a Go peer picks the hybrid, a Rust iroh build with
// ring (x25519, P-256, P-384 only) picks x25519, and neither needs a
// HelloRetryRequest; the cost is a ClientHello of about 1.5 KB, two Initial
// packets instead of one. A server picks its most preferred group the
// client supports and sends a HelloRetryRequest when the client has no
// share for it (a Rust ClientHello offering x25519 with a share gets
// x25519 at once).
//
// # Driving a Conn
//
// A Conn is one side's handshake. The QUIC core feeds it the in-order bytes
// of each level's CRYPTO stream and drains events until EventNone:
//
//	conn := tls13.Client(&tls13.Config{
//		SecretKey:           secret,
//		ALPNs:               []string{"my-proto/1"},
//		ServerName:          serverID.SNIName(),
//		TransportParameters: ourParams,
//	})
//	err := conn.Start() // the ClientHello
//	for {
//		// after Start, after each HandleData(level, cryptoBytes):
//		ev := conn.NextEvent()
//		switch ev.Kind {
//		case tls13.EventNone:
//			// wait for more CRYPTO frames
//		case tls13.EventWriteData:
//			// send ev.Data in CRYPTO frames at ev.Level
//		case tls13.EventSetReadSecret, tls13.EventSetWriteSecret:
//			// derive packet protection keys for ev.Level from ev.Suite and ev.Data
//		case tls13.EventPeerTransportParameters:
//			// decode and apply ev.Data
//		case tls13.EventHandshakeDone:
//			// conn.PeerKey() is authenticated; conn.ALPN() is final
//		}
//	}
//
// Events come in the order the core must act on them. A client's full
// handshake gives: WriteData(Initial, ClientHello); SetReadSecret and
// SetWriteSecret(Handshake) and PeerTransportParameters after the
// ServerHello and EncryptedExtensions; then SetReadSecret(Application),
// WriteData(Handshake, Certificate CertificateVerify Finished),
// SetWriteSecret(Application), HandshakeDone. A server answers the
// ClientHello with WriteData(Initial, ServerHello), its Handshake secrets,
// WriteData(Handshake, its whole flight) and SetWriteSecret(Application)
// (0.5-RTT data may flow), and gives SetReadSecret(Application) and
// HandshakeDone once the client's Finished verifies. Event data belongs to
// the receiver.
//
// Errors from Start and HandleData are *AlertError: Alert is the TLS alert,
// QUICCode (0x100+alert) the CONNECTION_CLOSE code, and the message says
// what was wrong ("tls13: server key ab12cd34ef does not match dialed id
// 0011223344"). After an error the Conn is dead and returns it again.
// A client dialing a key the server does not hold fails with unknown_ca
// (0x130), as Rust iroh does. KeyUpdate and EndOfEarlyData are forbidden in
// QUIC and fail the handshake. One handshake message may be at most
// Config.MaxMessageSize (64 KiB by default), and lists inside messages are
// bounded (16 key shares, 64 ALPNs, 16 PSK identities, 16 certificate
// entries), so a message never costs more than a few times its size.
//
// Config.KeyLogWriter writes the traffic secrets in the NSS key log format
// (SSLKEYLOGFILE) for Wireshark; for debugging only.
//
// # Resumption and 0-RTT
//
// A server with Config.TicketKeys issues tickets when the core calls
// SendSessionTicket after HandshakeDone (the ticket is WriteData at the
// Application level). Tickets are self-encrypted (AES-256-GCM under the
// TicketKeys key) and carry the resumption PSK, suite, ALPN, the client's
// key, their creation time and age_add; with EnableEarlyData they allow
// 0-RTT (max_early_data_size 0xffffffff, RFC 9001 §4.6.1). A client with a
// SessionCache (256 server names, as Rust iroh) stores them
// (EventSessionTicketStored) together with the server's transport
// parameters of that connection, and resumes with psk_dhe_ke and a binder.
// With EnableEarlyData and a ticket allowing it for its first ALPN, the
// client also offers 0-RTT: Start then emits SetWriteSecret(Early) and
// EarlySession returns the session whose ALPN and TransportParameters the
// 0-RTT packets must respect (RFC 9000 §7.4.1). The server accepts 0-RTT
// (SetReadSecret(Early), EventEarlyDataAccepted) only for a fresh,
// first-offered ticket with the same suite and ALPN, a plausible ticket age
// and no HelloRetryRequest, and when Config.AcceptEarlyData (if set) agrees;
// otherwise both sides get EventEarlyDataRejected and the core resends its
// 0-RTT data at 1-RTT. The server's core keeps what 0-RTT must respect (its
// own transport parameter limits) in Config.TicketData, sealed in each
// ticket; AcceptEarlyData sees it, and ResumedTicketData returns it.
//
// Replay policy: a ticket resumes at most one connection within its
// lifetime (TicketLifetime, 2 hours), 0-RTT or not. TicketKeys remembers
// redeemed tickets in a table of bounded size; when the table is full of
// unexpired entries, further resumptions fall back to full handshakes
// rather than risk a replay. TicketKeys.Rotate replaces the sealing key,
// the previous one still opening tickets until the next rotation; tickets
// do not survive the TicketKeys (no persistence). A server accepting 0-RTT must still keep
// its transport parameter limits at least as high as before.
//
// # What it does not do
//
// No X.509, no certificate chains, no PSK-only key exchange, no
// post-handshake authentication, no key export, no cookies in
// HelloRetryRequest (QUIC has Retry), no TLS record layer or alerts on the
// wire: QUIC carries all of that. The key schedule helpers (ExpandLabel,
// CipherSuite) are shared with the QUIC packet protection, which derives
// its key, IV, header protection key and key updates from the secrets this
// package produces.
//
// # Concurrency
//
// A Conn is not safe for concurrent use: one goroutine (the connection's)
// drives it. SessionCache and TicketKeys are safe for concurrent use and
// meant to be shared by all connections of an endpoint. Nothing here starts
// goroutines, does I/O or logs.
//
// # Tests
//
// The key schedule, binders and parsers are checked against the traces of
// RFC 8448; our ClientHello against the one a real Rust iroh 1.0 endpoint
// sent (shared/spec/vectors/core.json); the server against a ClientHello of
// Rust's exact shape. TestInteropRust runs real Rust iroh 1.0 endpoints
// (shared/interop, in a network namespace) over a test-only QUIC packet
// layer: our client completes handshakes with a Rust listener (also after
// a HelloRetryRequest), stores its tickets and resumes with 0-RTT accepted;
// a Rust client completes its handshake with our server (also after a
// HelloRetryRequest to P-256 with ChaCha20), resumes with our ticket, and
// refuses our server when it presents a key other than the one dialed.
// Every parser, and the client and server as a whole, has a fuzz target.
package tls13
