package quic

import (
	"errors"
	"io"
	"time"

	"github.com/iroh-go/iroh/internal/quic/tls13"
)

// Defaults, chosen to match what Rust iroh 1.0 (noq) sends and does
// (shared/spec/core.md §6.3) where it matters to the peer.
const (
	DefaultMaxIdleTimeout          = 30 * time.Second
	DefaultHandshakeTimeout        = 10 * time.Second
	DefaultInitialStreamWindow     = 1_250_000
	DefaultMaxStreamWindow         = 16 << 20
	DefaultInitialConnWindow       = 2 * DefaultInitialStreamWindow
	DefaultMaxConnWindow           = 64 << 20
	DefaultSendBufferSize          = 256 << 10
	DefaultMaxIncomingStreams      = 100
	DefaultMaxDatagramFrameSize    = 65535
	DefaultDatagramQueueLen        = 128
	DefaultActiveConnectionIDLimit = 5
	DefaultMaxUDPPayloadSize       = 1472
	// DefaultMaxAckDelay is what we advertise (max_ack_delay) and use.
	DefaultMaxAckDelay = 25 * time.Millisecond
	// DefaultMinAckDelay is the ACK-frequency draft's min_ack_delay we
	// advertise, as noq does (1000 µs).
	DefaultMinAckDelay = time.Millisecond
	// initialMTU is the datagram size before path MTU discovery: the
	// 1200 bytes every QUIC path carries.
	initialMTU = 1200
)

// Config configures a connection core. The zero value of each field
// means its default; NewClient and NewServer copy the Config.
type Config struct {
	// TLS is the handshake configuration: SecretKey (our identity),
	// ALPNs, ServerName (client: the peer's SNI name), SessionCache,
	// TicketKeys, EnableEarlyData. TransportParameters is set by the core.
	TLS tls13.Config
	// MaxIdleTimeout closes the connection after this long without a
	// packet from the peer; zero means 30 s. The smaller of ours and the
	// peer's applies.
	MaxIdleTimeout time.Duration
	// HandshakeTimeout bounds the handshake; zero means 10 s.
	HandshakeTimeout time.Duration
	// KeepAlivePeriod sends a PING after this long without sending;
	// zero means no keep-alive.
	KeepAlivePeriod time.Duration
	// InitialStreamWindow is each stream's initial receive window; zero
	// means 1 250 000 bytes (noq's). MaxStreamWindow bounds autotuning;
	// zero means 16 MiB.
	InitialStreamWindow, MaxStreamWindow uint64
	// InitialConnWindow and MaxConnWindow are the same for the whole
	// connection; zero means 2.5 MB and 64 MiB.
	InitialConnWindow, MaxConnWindow uint64
	// SendBufferSize is how much written data a stream holds that was
	// not sent yet before Write blocks; zero means 256 KiB. (Sent data
	// is held until acknowledged too, bounded by the congestion window
	// and the peer's flow control.) Small is fast: the bytes are still
	// in the CPU cache when they are copied into packets.
	SendBufferSize uint64
	// MaxIncomingStreams and MaxIncomingUniStreams are how many streams
	// the peer may have open at once; zero means 100.
	MaxIncomingStreams, MaxIncomingUniStreams uint64
	// MaxDatagramFrameSize is the largest datagram frame we accept; zero
	// means 65535. DisableDatagrams turns RFC 9221 datagrams off.
	MaxDatagramFrameSize uint64
	DisableDatagrams     bool
	// DatagramQueueLen bounds received datagrams not yet read and
	// datagrams not yet sent; when full the oldest is dropped. Zero
	// means 128.
	DatagramQueueLen int
	// ActiveConnectionIDLimit is how many of the peer's connection ids
	// we keep; zero means 5.
	ActiveConnectionIDLimit uint64
	// MaxUDPPayloadSize is the largest datagram we receive (the
	// max_udp_payload_size we announce) and the ceiling of path MTU
	// discovery; zero means 1472 (noq's). Below 1200 is an error; -1
	// disables path MTU discovery (1200-byte datagrams).
	MaxUDPPayloadSize int
	// CIDs makes our connection ids (required).
	CIDs CIDSource
	// RequireRetry (server) validates client addresses with a Retry
	// before creating state.
	RequireRetry bool
	// Rand is the randomness for ids, key update points and tokens; nil
	// means crypto/rand.
	Rand io.Reader
}

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.CIDs == nil {
		return cfg, errors.New("quic: Config.CIDs is required")
	}
	def := func(v *uint64, d uint64) {
		if *v == 0 {
			*v = d
		}
	}
	if cfg.MaxIdleTimeout == 0 {
		cfg.MaxIdleTimeout = DefaultMaxIdleTimeout
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.MaxIdleTimeout < 0 || cfg.HandshakeTimeout < 0 || cfg.KeepAlivePeriod < 0 {
		return cfg, errors.New("quic: negative timeout in Config")
	}
	def(&cfg.InitialStreamWindow, DefaultInitialStreamWindow)
	def(&cfg.MaxStreamWindow, DefaultMaxStreamWindow)
	def(&cfg.InitialConnWindow, DefaultInitialConnWindow)
	def(&cfg.MaxConnWindow, DefaultMaxConnWindow)
	def(&cfg.SendBufferSize, DefaultSendBufferSize)
	def(&cfg.MaxIncomingStreams, DefaultMaxIncomingStreams)
	def(&cfg.MaxIncomingUniStreams, DefaultMaxIncomingStreams)
	def(&cfg.MaxDatagramFrameSize, DefaultMaxDatagramFrameSize)
	def(&cfg.ActiveConnectionIDLimit, DefaultActiveConnectionIDLimit)
	if cfg.MaxStreamWindow < cfg.InitialStreamWindow || cfg.MaxConnWindow < cfg.InitialConnWindow {
		return cfg, errors.New("quic: a maximum window below its initial window in Config")
	}
	if cfg.ActiveConnectionIDLimit < 2 {
		return cfg, errors.New("quic: ActiveConnectionIDLimit below 2")
	}
	if cfg.MaxUDPPayloadSize == 0 {
		cfg.MaxUDPPayloadSize = DefaultMaxUDPPayloadSize
	}
	if cfg.MaxUDPPayloadSize != -1 && (cfg.MaxUDPPayloadSize < initialMTU || cfg.MaxUDPPayloadSize > 65527) {
		return cfg, errors.New("quic: MaxUDPPayloadSize outside 1200..65527")
	}
	if cfg.DatagramQueueLen == 0 {
		cfg.DatagramQueueLen = DefaultDatagramQueueLen
	}
	return cfg, nil
}
