package tls13

import (
	crand "crypto/rand"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/iroh-go/iroh/key"
)

// Level is a QUIC encryption level; handshake bytes travel in CRYPTO
// frames of one level at a time.
type Level uint8

// The encryption levels, in order.
const (
	LevelInitial     Level = iota
	LevelEarly             // 0-RTT: no handshake data, only the client's early write secret
	LevelHandshake         // protected by the handshake traffic secrets
	LevelApplication       // 1-RTT: post-handshake messages (NewSessionTicket)
)

func (l Level) String() string {
	switch l {
	case LevelInitial:
		return "Initial"
	case LevelEarly:
		return "Early"
	case LevelHandshake:
		return "Handshake"
	case LevelApplication:
		return "Application"
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// DefaultMaxMessageSize bounds one handshake message; a peer announcing a
// bigger one fails the handshake. Ours are at most a few KiB.
const DefaultMaxMessageSize = 64 << 10

// Config configures one Conn. Client reads ServerName, SessionCache; Server
// reads TicketKeys. The Conn copies the Config; the caller may reuse it.
type Config struct {
	// SecretKey is our identity: its public key is our raw public key
	// certificate. Any 32 bytes are valid.
	SecretKey key.SecretKey
	// ALPNs are the application protocols: the client offers them in this
	// order of preference; the server accepts these, in the client's order.
	// Required, each 1 to 255 bytes.
	ALPNs []string
	// ServerName (client only) is the SNI, "<base32hex id>.iroh.invalid"
	// (key.PublicKey.SNIName); the server must prove it holds that key.
	ServerName string
	// TransportParameters are our encoded QUIC transport parameters, sent
	// as the quic_transport_parameters extension. Opaque here; nil sends an
	// empty extension (which a QUIC peer will reject: the core must set it).
	TransportParameters []byte
	// SessionCache (client only, optional) stores tickets and offers them
	// to resume; nil means no resumption.
	SessionCache *SessionCache
	// TicketKeys (server only, optional) protects the tickets
	// SendSessionTicket issues and redeems them; nil means no resumption.
	TicketKeys *TicketKeys
	// EnableEarlyData lets the client offer 0-RTT with a ticket that allows
	// it, and the server accept 0-RTT and issue tickets allowing it.
	EnableEarlyData bool
	// TicketData (server only, optional) is opaque data sealed into the
	// tickets SendSessionTicket issues, at most 1024 bytes: typically what
	// the QUIC core must remember to accept 0-RTT (its transport parameter
	// limits, RFC 9000 §7.4.1). A resumed server Conn returns it from
	// ResumedTicketData.
	TicketData []byte
	// AcceptEarlyData (server only, optional) is asked, while the
	// ClientHello is processed, whether to accept 0-RTT resumed from a
	// ticket that carries ticketData; nil means yes. It runs on the
	// goroutine that called HandleData and must not block.
	AcceptEarlyData func(ticketData []byte) bool
	// EarlyDataALPN (server only, optional) says for which negotiated
	// ALPNs 0-RTT is allowed: tickets issued on other ALPNs do not allow
	// early data, and 0-RTT resumed on them is refused (the data then
	// comes after the handshake). nil means every ALPN. It must not
	// block.
	EarlyDataALPN func(alpn string) bool
	// CipherSuites restricts the suites, in order of preference; nil means
	// DefaultCipherSuites.
	CipherSuites []CipherSuite
	// Groups are the key exchange groups in order of preference; nil means
	// DefaultGroups. The server picks its most preferred group the client
	// supports and asks (HelloRetryRequest) for a share if it has none.
	Groups []Group
	// KeyShares (client only) are the groups the ClientHello carries shares
	// for; nil means DefaultKeyShares (filtered by Groups).
	KeyShares []Group
	// Rand is the source of randomness; nil means crypto/rand. Tests inject
	// a seeded reader for deterministic bytes (ML-KEM encapsulation on the
	// server still uses crypto/rand).
	Rand io.Reader
	// Now is the clock for ticket ages; nil means time.Now.
	Now func() time.Time
	// MaxMessageSize bounds one handshake message; zero means
	// DefaultMaxMessageSize.
	MaxMessageSize int
	// KeyLogWriter, if set, receives every traffic secret in the NSS key
	// log format (SSLKEYLOGFILE) so that Wireshark can decrypt a capture.
	// For debugging only: it exposes the connection's secrets. Written from
	// the goroutine that drives the Conn; nil means no key log.
	KeyLogWriter io.Writer
}

// DefaultCipherSuites are offered in Rust iroh's order.
var DefaultCipherSuites = []CipherSuite{TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256}

// DefaultGroups is our order of preference: the post-quantum hybrid first,
// then what Rust iroh's ring build has.
var DefaultGroups = []Group{X25519MLKEM768, X25519, P256, P384}

// DefaultKeyShares are the shares a client sends: the hybrid for peers that
// have it (Go iroh, aws-lc-rs builds) and X25519, which every Rust iroh
// build selects, so neither costs a HelloRetryRequest round trip. The
// price is a ClientHello of about 1.5 KB, two Initial packets.
var DefaultKeyShares = []Group{X25519MLKEM768, X25519}

// EventKind says what an Event asks the QUIC core to do.
type EventKind uint8

// The events, in the order a handshake produces them.
const (
	EventNone                    EventKind = iota // no more events for now
	EventWriteData                                // send Data in CRYPTO frames at Level
	EventSetReadSecret                            // install Secret for reading at Level
	EventSetWriteSecret                           // install Secret for writing at Level
	EventPeerTransportParameters                  // Data are the peer's transport parameters
	EventEarlyDataAccepted                        // client: the server accepts 0-RTT; server: we accept it
	EventEarlyDataRejected                        // 0-RTT was offered and is refused: resend its data at 1-RTT
	EventHandshakeDone                            // the handshake is complete and the peer authenticated
	EventSessionTicketStored                      // client: a ticket from the server is in the SessionCache
)

var eventNames = [...]string{"None", "WriteData", "SetReadSecret", "SetWriteSecret", "PeerTransportParameters",
	"EarlyDataAccepted", "EarlyDataRejected", "HandshakeDone", "SessionTicketStored"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one instruction for the QUIC core. Data is owned by the
// receiver (the Conn keeps no reference).
type Event struct {
	Kind  EventKind
	Level Level
	Suite CipherSuite // secrets: the suite whose AEAD and hash use Data
	Data  []byte      // handshake bytes, a traffic secret, or transport parameters
}

type connState uint8

const (
	stateStart connState = iota
	// client
	stateWaitServerHello
	stateWaitEncryptedExtensions
	stateWaitCertOrCertRequest
	stateWaitServerCert
	stateWaitServerCertVerify
	stateWaitServerFinished
	// server
	stateWaitClientHello
	stateWaitClientCert
	stateWaitClientCertVerify
	stateWaitClientFinished
	// both
	stateDone
)

// earlyState is the fate of 0-RTT.
type earlyState uint8

const (
	earlyNone earlyState = iota
	earlyOffered
	earlyAccepted
	earlyRejected
)

// Conn is one side of a TLS 1.3 handshake for QUIC. It does no I/O: the
// core feeds it CRYPTO stream bytes with HandleData and drains NextEvent.
// A Conn is not safe for concurrent use.
type Conn struct {
	// Set in Client/Server, then read-only.
	cfg      Config
	isClient bool
	rand     io.Reader
	now      func() time.Time
	maxMsg   int
	suites   []CipherSuite
	groups   []Group

	state  connState
	err    *AlertError
	in     []byte // partial message at readLevel
	events []Event
	next   int // first undelivered event

	ts     transcript
	suite  CipherSuite
	master []byte
	cHS    []byte
	sHS    []byte
	cAP    []byte
	sAP    []byte
	resMS  []byte
	early  earlyState
	psk    []byte

	peerKey    key.PublicKey
	alpn       string
	peerTP     []byte
	serverName string
	resumed    bool
	hrr        bool
	// clientRandom is the ClientHello.random, for the key log.
	clientRandom []byte

	// client
	wantKey   key.PublicKey
	hello     *clientHello
	shares    []*keyShare
	session   *Session
	certAsked bool
	testHello func(*clientHello) // tests: reshape the ClientHello

	// server
	ticketData  []byte // from the ticket resumed
	ticketNonce uint64
	hrrGroup    Group
	group       Group // the key exchange group in use
}

// Group is the negotiated key exchange group, zero before it is known.
func (c *Conn) Group() Group { return c.group }

// Client returns the client side of a handshake; Start writes the
// ClientHello.
func Client(cfg *Config) *Conn { return newConn(cfg, true) }

// Server returns the server side of a handshake; it waits for the
// ClientHello in HandleData. Start is optional for a server.
func Server(cfg *Config) *Conn { return newConn(cfg, false) }

func newConn(cfg *Config, client bool) *Conn {
	c := &Conn{isClient: client}
	if cfg != nil {
		c.cfg = *cfg
	}
	c.cfg.ALPNs = slices.Clone(c.cfg.ALPNs)
	c.rand = randOrDefault(c.cfg.Rand)
	c.now = c.cfg.Now
	if c.now == nil {
		c.now = time.Now
	}
	c.maxMsg = c.cfg.MaxMessageSize
	if c.maxMsg <= 0 {
		c.maxMsg = DefaultMaxMessageSize
	}
	c.suites = c.cfg.CipherSuites
	if c.suites == nil {
		c.suites = DefaultCipherSuites
	}
	c.groups = c.cfg.Groups
	if c.groups == nil {
		c.groups = DefaultGroups
	}
	if !client {
		c.state = stateWaitClientHello
	}
	return c
}

func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return crand.Reader
	}
	return r
}

// checkConfig reports a config error as an internal_error alert.
func (c *Conn) checkConfig() error {
	if len(c.cfg.ALPNs) == 0 {
		return alertf(AlertInternalError, "config: no ALPN (QUIC requires one)")
	}
	if len(c.cfg.ALPNs) > maxALPNProtocols {
		return alertf(AlertInternalError, "config: %d ALPNs, at most %d", len(c.cfg.ALPNs), maxALPNProtocols)
	}
	for _, p := range c.cfg.ALPNs {
		if len(p) == 0 || len(p) > 255 {
			return alertf(AlertInternalError, "config: ALPN %q must be 1 to 255 bytes", p)
		}
	}
	if len(c.suites) == 0 {
		return alertf(AlertInternalError, "config: no cipher suites")
	}
	for _, s := range c.suites {
		if !s.Known() {
			return alertf(AlertInternalError, "config: unsupported cipher suite %v", s)
		}
	}
	if len(c.groups) == 0 {
		return alertf(AlertInternalError, "config: no groups")
	}
	for _, g := range c.groups {
		if !g.supported() {
			return alertf(AlertInternalError, "config: unsupported group %v", g)
		}
	}
	if len(c.cfg.TicketData) > maxTicketData {
		return alertf(AlertInternalError, "config: ticket data of %d bytes, at most %d", len(c.cfg.TicketData), maxTicketData)
	}
	if len(c.cfg.TransportParameters) > 0xffff {
		return alertf(AlertInternalError, "config: transport parameters of %d bytes", len(c.cfg.TransportParameters))
	}
	return nil
}

// Start begins the handshake: a client writes its ClientHello (and, when
// it offers 0-RTT, emits the early write secret). For a server Start only
// checks the Config.
func (c *Conn) Start() error {
	if c.err != nil {
		return c.err
	}
	if err := c.checkConfig(); err != nil {
		return c.fail(err)
	}
	if !c.isClient {
		return nil
	}
	if c.state != stateStart {
		return c.fail(alertf(AlertInternalError, "Start called twice"))
	}
	return c.fail(c.clientStart())
}

// HandleData feeds CRYPTO stream bytes received at level, in order. Partial
// messages are buffered. It returns an *AlertError when the handshake
// fails; the Conn is then dead and returns the same error forever.
func (c *Conn) HandleData(level Level, b []byte) error {
	if c.err != nil {
		return c.err
	}
	if c.isClient && c.state == stateStart {
		return c.fail(alertf(AlertInternalError, "HandleData before Start"))
	}
	if want := c.readLevel(); level != want {
		if len(b) == 0 {
			return nil
		}
		return c.fail(alertf(AlertUnexpectedMessage, "handshake data at %v level while expecting %v", level, want))
	}
	// Take b in pieces that fit the buffer's bound (one largest message), so
	// a huge call never copies more than that at once.
	for len(b) > 0 {
		if c.readLevel() != level {
			return c.fail(alertf(AlertUnexpectedMessage, "%d bytes of handshake data at %v level after the last message of that level", len(b), level))
		}
		n := min(len(b), c.maxMsg+handshakeHeaderSize-len(c.in))
		c.in = append(c.in, b[:n]...)
		b = b[n:]
		if err := c.processBuffered(level); err != nil {
			return err
		}
	}
	if len(c.in) == 0 {
		c.in = nil // release the buffer between flights
	}
	return nil
}

// processBuffered handles every complete message in c.in.
func (c *Conn) processBuffered(level Level) error {
	for len(c.in) >= handshakeHeaderSize {
		n := int(c.in[1])<<16 | int(c.in[2])<<8 | int(c.in[3])
		if n > c.maxMsg {
			return c.fail(alertf(AlertDecodeError, "handshake message type %d of %d bytes exceeds the limit of %d", c.in[0], n, c.maxMsg))
		}
		if len(c.in) < handshakeHeaderSize+n {
			return nil
		}
		msg := c.in[:handshakeHeaderSize+n]
		if err := c.handleMessage(msg); err != nil {
			return c.fail(err)
		}
		c.in = c.in[handshakeHeaderSize+n:]
		if len(c.in) > 0 && c.readLevel() != level {
			return c.fail(alertf(AlertUnexpectedMessage, "%d bytes of handshake data at %v level after the last message of that level", len(c.in), level))
		}
	}
	return nil
}

// readLevel is the level the next handshake message must arrive at.
func (c *Conn) readLevel() Level {
	switch c.state {
	case stateStart, stateWaitServerHello, stateWaitClientHello:
		return LevelInitial
	case stateDone:
		return LevelApplication
	}
	return LevelHandshake
}

func (c *Conn) handleMessage(msg []byte) error {
	typ := msg[0]
	if typ == typeKeyUpdate {
		return alertf(AlertUnexpectedMessage, "KeyUpdate is forbidden in QUIC (RFC 9001 §6)")
	}
	if typ == typeEndOfEarlyData {
		return alertf(AlertUnexpectedMessage, "EndOfEarlyData is forbidden in QUIC (RFC 9001 §8.3)")
	}
	if c.isClient {
		return c.clientHandle(typ, msg)
	}
	return c.serverHandle(typ, msg)
}

// fail records the first error; later calls return it.
func (c *Conn) fail(err error) error {
	if err == nil {
		return nil
	}
	if c.err == nil {
		c.err = asAlert(err)
		c.events = nil
		c.next = 0
	}
	return c.err
}

// NextEvent returns the next event, or an Event with Kind EventNone when
// there are none; drain it after Start, HandleData and SendSessionTicket.
func (c *Conn) NextEvent() Event {
	if c.next >= len(c.events) {
		c.events = c.events[:0]
		c.next = 0
		return Event{}
	}
	e := c.events[c.next]
	c.events[c.next] = Event{}
	c.next++
	return e
}

func (c *Conn) emit(e Event) { c.events = append(c.events, e) }

func (c *Conn) writeData(level Level, b []byte) {
	c.emit(Event{Kind: EventWriteData, Level: level, Data: b})
}

func (c *Conn) setSecret(kind EventKind, level Level, suite CipherSuite, secret []byte) {
	c.emit(Event{Kind: kind, Level: level, Suite: suite, Data: slices.Clone(secret)})
	if c.cfg.KeyLogWriter != nil {
		// A client writes with client secrets; a server reads with them.
		clientSecret := (kind == EventSetWriteSecret) == c.isClient
		c.logKey(clientSecret, level, secret)
	}
}

// logKey writes one NSS key log line; clientSecret says whose secret it is.
func (c *Conn) logKey(clientSecret bool, level Level, secret []byte) {
	side := "SERVER_"
	if clientSecret {
		side = "CLIENT_"
	}
	var label string
	switch level {
	case LevelEarly:
		label = "CLIENT_EARLY_TRAFFIC_SECRET"
	case LevelHandshake:
		label = side + "HANDSHAKE_TRAFFIC_SECRET"
	case LevelApplication:
		label = side + "TRAFFIC_SECRET_0"
	default:
		return
	}
	fmt.Fprintf(c.cfg.KeyLogWriter, "%s %x %x\n", label, c.clientRandom, secret)
}

// PeerKey is the peer's authenticated key once known: after the peer's
// CertificateVerify, or from the ticket on resumption (a client knows it at
// Start when offering 0-RTT). Zero before.
func (c *Conn) PeerKey() key.PublicKey { return c.peerKey }

// ALPN is the negotiated application protocol, "" before it is known.
func (c *Conn) ALPN() string { return c.alpn }

// ServerName is the SNI: the client's own, or what the server received.
func (c *Conn) ServerName() string { return c.serverName }

// CipherSuite is the negotiated suite, zero before the ServerHello.
func (c *Conn) CipherSuite() CipherSuite { return c.suite }

// HandshakeComplete reports whether EventHandshakeDone was emitted.
func (c *Conn) HandshakeComplete() bool { return c.state == stateDone }

// UsedResumption reports whether the handshake resumed a session (PSK).
func (c *Conn) UsedResumption() bool { return c.resumed }

// EarlyDataOffered reports whether the client offered 0-RTT.
func (c *Conn) EarlyDataOffered() bool { return c.early != earlyNone }

// EarlyDataAccepted reports whether 0-RTT was accepted: the server decides
// it on the ClientHello, the client learns it in EncryptedExtensions.
func (c *Conn) EarlyDataAccepted() bool { return c.early == earlyAccepted }

// DidHelloRetryRequest reports whether the server asked for another key
// share.
func (c *Conn) DidHelloRetryRequest() bool { return c.hrr }

// EarlySession is the session a client offers for 0-RTT (nil if none):
// its ALPN and TransportParameters are what 0-RTT packets must respect.
func (c *Conn) EarlySession() *Session {
	if c.early == earlyNone || !c.isClient {
		return nil
	}
	return c.session
}

// ResumedTicketData (server) is the Config.TicketData of the connection
// that issued the ticket this one resumed; nil without resumption.
func (c *Conn) ResumedTicketData() []byte { return c.ticketData }

// Err is the error that ended the handshake, nil if none.
func (c *Conn) Err() error {
	if c.err == nil {
		return nil
	}
	return c.err
}
