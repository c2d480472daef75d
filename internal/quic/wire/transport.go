package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
)

// TransportParameterID identifies a transport parameter (RFC 9000 §18.2).
type TransportParameterID uint64

// Transport parameter IDs: RFC 9000 §18.2 and the extensions iroh sends.
const (
	TPOriginalDestinationCID         TransportParameterID = 0x00
	TPMaxIdleTimeout                 TransportParameterID = 0x01
	TPStatelessResetToken            TransportParameterID = 0x02
	TPMaxUDPPayloadSize              TransportParameterID = 0x03
	TPInitialMaxData                 TransportParameterID = 0x04
	TPInitialMaxStreamDataBidiLocal  TransportParameterID = 0x05
	TPInitialMaxStreamDataBidiRemote TransportParameterID = 0x06
	TPInitialMaxStreamDataUni        TransportParameterID = 0x07
	TPInitialMaxStreamsBidi          TransportParameterID = 0x08
	TPInitialMaxStreamsUni           TransportParameterID = 0x09
	TPAckDelayExponent               TransportParameterID = 0x0a
	TPMaxAckDelay                    TransportParameterID = 0x0b
	TPDisableActiveMigration         TransportParameterID = 0x0c
	TPPreferredAddress               TransportParameterID = 0x0d
	TPActiveConnectionIDLimit        TransportParameterID = 0x0e
	TPInitialSourceCID               TransportParameterID = 0x0f
	TPRetrySourceCID                 TransportParameterID = 0x10
	TPMaxDatagramFrameSize           TransportParameterID = 0x20           // RFC 9221
	TPGreaseQUICBit                  TransportParameterID = 0x2ab2         // RFC 9287
	TPInitialMaxPathID               TransportParameterID = 0x3e           // multipath draft-18
	TPMinAckDelay                    TransportParameterID = 0xff04de1b     // ack-frequency draft
	TPN0NATTraversal                 TransportParameterID = 0x3d7f91120401 // QNT
	TPObservedAddress                TransportParameterID = 0x9f81a176     // address discovery (QAD)
)

var tpNames = map[TransportParameterID]string{
	TPOriginalDestinationCID: "original_destination_connection_id", TPMaxIdleTimeout: "max_idle_timeout",
	TPStatelessResetToken: "stateless_reset_token", TPMaxUDPPayloadSize: "max_udp_payload_size",
	TPInitialMaxData: "initial_max_data", TPInitialMaxStreamDataBidiLocal: "initial_max_stream_data_bidi_local",
	TPInitialMaxStreamDataBidiRemote: "initial_max_stream_data_bidi_remote",
	TPInitialMaxStreamDataUni:        "initial_max_stream_data_uni", TPInitialMaxStreamsBidi: "initial_max_streams_bidi",
	TPInitialMaxStreamsUni: "initial_max_streams_uni", TPAckDelayExponent: "ack_delay_exponent",
	TPMaxAckDelay: "max_ack_delay", TPDisableActiveMigration: "disable_active_migration",
	TPPreferredAddress: "preferred_address", TPActiveConnectionIDLimit: "active_connection_id_limit",
	TPInitialSourceCID: "initial_source_connection_id", TPRetrySourceCID: "retry_source_connection_id",
	TPMaxDatagramFrameSize: "max_datagram_frame_size", TPGreaseQUICBit: "grease_quic_bit",
	TPInitialMaxPathID: "initial_max_path_id", TPMinAckDelay: "min_ack_delay",
	TPN0NATTraversal: "n0_nat_traversal", TPObservedAddress: "address_discovery",
}

// String returns the name.
func (id TransportParameterID) String() string {
	if s, ok := tpNames[id]; ok {
		return s
	}
	return fmt.Sprintf("transport_parameter(%#x)", uint64(id))
}

// Defaults of RFC 9000 §18.2 for absent parameters.
const (
	DefaultMaxUDPPayloadSize       = 65527
	DefaultAckDelayExponent        = 3
	DefaultMaxAckDelay             = 25 // ms
	DefaultActiveConnectionIDLimit = 2
)

// Transport parameter limits.
const (
	// MaxTransportParametersLen bounds the encoded parameters accepted.
	MaxTransportParametersLen = 4096
	// MaxAckDelayExponent is the largest ack_delay_exponent (RFC 9000).
	MaxAckDelayExponent = 20
	// MaxMaxAckDelay bounds max_ack_delay: values of 2^14 ms or more are
	// invalid (RFC 9000 §18.2).
	MaxMaxAckDelay = 1<<14 - 1
	// maxGreaseLen is the longest random GREASE parameter value, as Rust
	// noq, quic-go and quiche send.
	maxGreaseLen = 16
)

// PreferredAddress is the server's preferred_address parameter.
type PreferredAddress struct {
	IPv4       netip.AddrPort // zero port and 0.0.0.0 when absent
	IPv6       netip.AddrPort
	CID        ConnID
	ResetToken [ResetTokenLen]byte
}

// TransportParameters are the QUIC transport parameters one side sends.
// Use NewTransportParameters for the RFC defaults; times are in the wire
// units (ms, µs) so values round-trip exactly.
type TransportParameters struct {
	// Server only.
	OriginalDestinationCID *ConnID
	RetrySourceCID         *ConnID
	StatelessResetToken    *[ResetTokenLen]byte
	PreferredAddress       *PreferredAddress

	InitialSourceCID *ConnID

	MaxIdleTimeout                 uint64 // ms; 0 means none
	MaxUDPPayloadSize              uint64
	InitialMaxData                 uint64
	InitialMaxStreamDataBidiLocal  uint64
	InitialMaxStreamDataBidiRemote uint64
	InitialMaxStreamDataUni        uint64
	InitialMaxStreamsBidi          uint64
	InitialMaxStreamsUni           uint64
	AckDelayExponent               uint64
	MaxAckDelay                    uint64 // ms
	DisableActiveMigration         bool
	ActiveConnectionIDLimit        uint64

	// MaxDatagramFrameSize is 0 when DATAGRAM frames are not supported.
	MaxDatagramFrameSize uint64
	GreaseQUICBit        bool
	// MinAckDelay (µs) is sent when HasMinAckDelay: ACK frequency support.
	HasMinAckDelay bool
	MinAckDelay    uint64
	// InitialMaxPathID is sent when HasInitialMaxPathID: multipath support.
	HasInitialMaxPathID bool
	InitialMaxPathID    uint64
	// NATTraversal is QNT's limit of remote candidate addresses; 0 means
	// the extension is not offered.
	NATTraversal uint8
	// AddressDiscovery is the role in QUIC address discovery
	// (draft-seemann-quic-address-discovery, as noq does it; iroh's relays
	// use it for QAD, endpoint connections do not send it).
	AddressDiscovery AddressDiscoveryRole
}

// AddressDiscoveryRole says whether an endpoint reports observed
// addresses (OBSERVED_ADDRESS frames) to its peer, wants them reported,
// or both. The zero value is off: the parameter is not sent.
type AddressDiscoveryRole uint8

// Address discovery roles; on the wire the value is the role minus one.
const (
	AddressDiscoveryOff AddressDiscoveryRole = iota
	AddressDiscoverySendOnly
	AddressDiscoveryReceiveOnly
	AddressDiscoveryBoth
)

// NewTransportParameters returns parameters holding the RFC 9000
// defaults, which is what an empty encoding decodes to.
func NewTransportParameters() TransportParameters {
	return TransportParameters{
		MaxUDPPayloadSize:       DefaultMaxUDPPayloadSize,
		AckDelayExponent:        DefaultAckDelayExponent,
		MaxAckDelay:             DefaultMaxAckDelay,
		ActiveConnectionIDLimit: DefaultActiveConnectionIDLimit,
	}
}

// TransportParameterError is a decoding or validation error naming the
// parameter. The connection closes with TRANSPORT_PARAMETER_ERROR.
type TransportParameterError struct {
	ID  TransportParameterID
	Err error
}

// Error describes the error.
func (e *TransportParameterError) Error() string {
	return "wire: transport parameter " + e.ID.String() + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *TransportParameterError) Unwrap() error { return e.Err }

func tpErr(id TransportParameterID, format string, args ...any) error {
	return &TransportParameterError{ID: id, Err: fmt.Errorf(format, args...)}
}

// ErrTransportParametersTooLong is returned for encodings longer than
// MaxTransportParametersLen.
var ErrTransportParametersTooLong = errors.New("wire: transport parameters too long")

type tpEntry struct {
	id TransportParameterID
	v  uint64
}

// Append appends the parameters in ID order, leaving out those at their
// default value.
func (p *TransportParameters) Append(b []byte) []byte {
	for _, id := range tpOrder {
		b = p.appendOne(b, id)
	}
	return b
}

// AppendRandomized appends the parameters in a random order with one
// reserved GREASE parameter (ID 31*N+27, up to 16 random bytes) among
// them, as Rust iroh does. r supplies the randomness; nil uses the
// global source.
func (p *TransportParameters) AppendRandomized(b []byte, r *rand.Rand) []byte {
	intn := rand.IntN
	u64 := rand.Uint64
	if r != nil {
		intn, u64 = r.IntN, r.Uint64
	}
	order := make([]TransportParameterID, len(tpOrder)+1)
	copy(order, tpOrder)
	grease := TransportParameterID((u64()%((1<<62-27)/31))*31 + 27)
	order[len(tpOrder)] = grease
	for i := len(order) - 1; i > 0; i-- {
		j := intn(i + 1)
		order[i], order[j] = order[j], order[i]
	}
	for _, id := range order {
		if id == grease {
			n := intn(maxGreaseLen + 1)
			b = AppendVarint(AppendVarint(b, uint64(id)), uint64(n))
			for range n {
				b = append(b, byte(u64()))
			}
			continue
		}
		b = p.appendOne(b, id)
	}
	return b
}

var tpOrder = tpOrderIndexTable[:]

func appendTPVarint(b []byte, id TransportParameterID, v uint64) []byte {
	b = AppendVarint(AppendVarint(b, uint64(id)), uint64(VarintLen(v)))
	return AppendVarint(b, v)
}

func appendTPBytes(b []byte, id TransportParameterID, v []byte) []byte {
	return append(AppendVarint(AppendVarint(b, uint64(id)), uint64(len(v))), v...)
}

func (p *TransportParameters) appendOne(b []byte, id TransportParameterID) []byte {
	varint := func(v, def uint64) []byte {
		if v == def {
			return b
		}
		return appendTPVarint(b, id, v)
	}
	switch id {
	case TPOriginalDestinationCID:
		if p.OriginalDestinationCID != nil {
			return appendTPBytes(b, id, p.OriginalDestinationCID.Bytes())
		}
	case TPInitialSourceCID:
		if p.InitialSourceCID != nil {
			return appendTPBytes(b, id, p.InitialSourceCID.Bytes())
		}
	case TPRetrySourceCID:
		if p.RetrySourceCID != nil {
			return appendTPBytes(b, id, p.RetrySourceCID.Bytes())
		}
	case TPStatelessResetToken:
		if p.StatelessResetToken != nil {
			return appendTPBytes(b, id, p.StatelessResetToken[:])
		}
	case TPPreferredAddress:
		if pa := p.PreferredAddress; pa != nil {
			b = AppendVarint(AppendVarint(b, uint64(id)), uint64(4+2+16+2+1+pa.CID.Len()+ResetTokenLen))
			v4 := pa.IPv4.Addr().Unmap()
			if !v4.Is4() {
				v4 = netip.AddrFrom4([4]byte{})
			}
			a4 := v4.As4()
			b = binary.BigEndian.AppendUint16(append(b, a4[:]...), pa.IPv4.Port())
			v6 := pa.IPv6.Addr()
			if !v6.Is6() {
				v6 = netip.IPv6Unspecified()
			}
			a6 := v6.As16()
			b = binary.BigEndian.AppendUint16(append(b, a6[:]...), pa.IPv6.Port())
			b = append(append(b, byte(pa.CID.Len())), pa.CID.Bytes()...)
			return append(b, pa.ResetToken[:]...)
		}
	case TPMaxIdleTimeout:
		return varint(p.MaxIdleTimeout, 0)
	case TPMaxUDPPayloadSize:
		return varint(p.MaxUDPPayloadSize, DefaultMaxUDPPayloadSize)
	case TPInitialMaxData:
		return varint(p.InitialMaxData, 0)
	case TPInitialMaxStreamDataBidiLocal:
		return varint(p.InitialMaxStreamDataBidiLocal, 0)
	case TPInitialMaxStreamDataBidiRemote:
		return varint(p.InitialMaxStreamDataBidiRemote, 0)
	case TPInitialMaxStreamDataUni:
		return varint(p.InitialMaxStreamDataUni, 0)
	case TPInitialMaxStreamsBidi:
		return varint(p.InitialMaxStreamsBidi, 0)
	case TPInitialMaxStreamsUni:
		return varint(p.InitialMaxStreamsUni, 0)
	case TPAckDelayExponent:
		return varint(p.AckDelayExponent, DefaultAckDelayExponent)
	case TPMaxAckDelay:
		return varint(p.MaxAckDelay, DefaultMaxAckDelay)
	case TPActiveConnectionIDLimit:
		return varint(p.ActiveConnectionIDLimit, DefaultActiveConnectionIDLimit)
	case TPDisableActiveMigration:
		if p.DisableActiveMigration {
			return appendTPBytes(b, id, nil)
		}
	case TPGreaseQUICBit:
		if p.GreaseQUICBit {
			return appendTPBytes(b, id, nil)
		}
	case TPMaxDatagramFrameSize:
		return varint(p.MaxDatagramFrameSize, 0)
	case TPMinAckDelay:
		if p.HasMinAckDelay {
			return appendTPVarint(b, id, p.MinAckDelay)
		}
	case TPInitialMaxPathID:
		if p.HasInitialMaxPathID {
			return appendTPVarint(b, id, p.InitialMaxPathID)
		}
	case TPN0NATTraversal:
		if p.NATTraversal != 0 {
			return appendTPBytes(b, id, []byte{p.NATTraversal})
		}
	case TPObservedAddress:
		if p.AddressDiscovery != AddressDiscoveryOff {
			return appendTPVarint(b, id, uint64(p.AddressDiscovery-1))
		}
	}
	return b
}

// Validate checks p by the rules ParseTransportParameters applies to a
// peer's parameters, as the peer will: fromServer says p is a server's.
func (p *TransportParameters) Validate(fromServer bool) error {
	b := p.Append(nil)
	if len(b) > MaxTransportParametersLen {
		return ErrTransportParametersTooLong
	}
	_, err := ParseTransportParameters(b, fromServer)
	return err
}

// ParseTransportParameters decodes and validates the parameters sent by
// the peer. fromServer says the sender is the server; a client sending a
// server-only parameter is an error. Unknown and reserved (GREASE)
// parameters are skipped; a known parameter sent twice is an error.
func ParseTransportParameters(b []byte, fromServer bool) (TransportParameters, error) {
	p := NewTransportParameters()
	if len(b) > MaxTransportParametersLen {
		return p, ErrTransportParametersTooLong
	}
	var seen [len(tpOrderIndexTable)]bool
	for len(b) > 0 {
		idv, n, err := ParseVarint(b)
		if err != nil {
			return p, &TransportParameterError{ID: TransportParameterID(idv), Err: fmt.Errorf("id: %w", err)}
		}
		b = b[n:]
		id := TransportParameterID(idv)
		l, n, err := ParseVarint(b)
		if err != nil {
			return p, tpErr(id, "length: %w", err)
		}
		b = b[n:]
		if l > uint64(len(b)) {
			return p, tpErr(id, "length %d exceeds the %d bytes left", l, len(b))
		}
		v := b[:l]
		b = b[l:]
		idx, known := tpIndex(id)
		if !known {
			continue
		}
		if seen[idx] {
			return p, tpErr(id, "sent twice")
		}
		seen[idx] = true
		if err := p.parseOne(id, v, fromServer); err != nil {
			return p, &TransportParameterError{ID: id, Err: err}
		}
	}
	if p.HasMinAckDelay && p.MinAckDelay > p.MaxAckDelay*1000 {
		return p, tpErr(TPMinAckDelay, "%d µs exceeds max_ack_delay %d ms", p.MinAckDelay, p.MaxAckDelay)
	}
	return p, nil
}

var tpOrderIndexTable = [...]TransportParameterID{
	TPOriginalDestinationCID, TPMaxIdleTimeout, TPStatelessResetToken, TPMaxUDPPayloadSize,
	TPInitialMaxData, TPInitialMaxStreamDataBidiLocal, TPInitialMaxStreamDataBidiRemote,
	TPInitialMaxStreamDataUni, TPInitialMaxStreamsBidi, TPInitialMaxStreamsUni, TPAckDelayExponent,
	TPMaxAckDelay, TPDisableActiveMigration, TPPreferredAddress, TPActiveConnectionIDLimit,
	TPInitialSourceCID, TPRetrySourceCID, TPMaxDatagramFrameSize, TPInitialMaxPathID,
	TPGreaseQUICBit, TPMinAckDelay, TPN0NATTraversal, TPObservedAddress,
}

func tpIndex(id TransportParameterID) (int, bool) {
	for i, k := range tpOrderIndexTable {
		if k == id {
			return i, true
		}
	}
	return 0, false
}

func parseTPVarint(v []byte) (uint64, error) {
	x, n, err := ParseVarint(v)
	if err != nil {
		return 0, err
	}
	if n != len(v) {
		return 0, fmt.Errorf("value is %d bytes, its varint %d", len(v), n)
	}
	return x, nil
}

func parseCID(v []byte) (*ConnID, error) {
	c, err := NewConnID(v)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

var errServerOnly = errors.New("sent by a client (server only)")

func (p *TransportParameters) parseOne(id TransportParameterID, v []byte, fromServer bool) error {
	switch id {
	case TPOriginalDestinationCID, TPRetrySourceCID, TPStatelessResetToken, TPPreferredAddress:
		if !fromServer {
			return errServerOnly
		}
	}
	var err error
	switch id {
	case TPOriginalDestinationCID:
		p.OriginalDestinationCID, err = parseCID(v)
	case TPInitialSourceCID:
		p.InitialSourceCID, err = parseCID(v)
	case TPRetrySourceCID:
		p.RetrySourceCID, err = parseCID(v)
	case TPStatelessResetToken:
		if len(v) != ResetTokenLen {
			return fmt.Errorf("length %d, want %d", len(v), ResetTokenLen)
		}
		t := [ResetTokenLen]byte(v)
		p.StatelessResetToken = &t
	case TPPreferredAddress:
		return p.parsePreferredAddress(v)
	case TPDisableActiveMigration:
		if len(v) != 0 {
			return fmt.Errorf("length %d, want 0", len(v))
		}
		p.DisableActiveMigration = true
	case TPGreaseQUICBit:
		if len(v) != 0 {
			return fmt.Errorf("length %d, want 0", len(v))
		}
		p.GreaseQUICBit = true
	case TPN0NATTraversal:
		if len(v) != 1 {
			return fmt.Errorf("length %d, want 1", len(v))
		}
		if v[0] == 0 {
			return errors.New("zero addresses")
		}
		p.NATTraversal = v[0]
	default:
		x, err := parseTPVarint(v)
		if err != nil {
			return err
		}
		return p.setVarint(id, x)
	}
	return err
}

func (p *TransportParameters) setVarint(id TransportParameterID, x uint64) error {
	switch id {
	case TPMaxIdleTimeout:
		p.MaxIdleTimeout = x
	case TPMaxUDPPayloadSize:
		if x < MinInitialDatagramSize {
			return fmt.Errorf("%d is below 1200", x)
		}
		p.MaxUDPPayloadSize = x
	case TPInitialMaxData:
		p.InitialMaxData = x
	case TPInitialMaxStreamDataBidiLocal:
		p.InitialMaxStreamDataBidiLocal = x
	case TPInitialMaxStreamDataBidiRemote:
		p.InitialMaxStreamDataBidiRemote = x
	case TPInitialMaxStreamDataUni:
		p.InitialMaxStreamDataUni = x
	case TPInitialMaxStreamsBidi, TPInitialMaxStreamsUni:
		if x > MaxStreamCount {
			return fmt.Errorf("%d exceeds 2^60", x)
		}
		if id == TPInitialMaxStreamsBidi {
			p.InitialMaxStreamsBidi = x
		} else {
			p.InitialMaxStreamsUni = x
		}
	case TPAckDelayExponent:
		if x > MaxAckDelayExponent {
			return fmt.Errorf("%d exceeds %d", x, MaxAckDelayExponent)
		}
		p.AckDelayExponent = x
	case TPMaxAckDelay:
		if x > MaxMaxAckDelay {
			return fmt.Errorf("%d ms is 2^14 or more", x)
		}
		p.MaxAckDelay = x
	case TPActiveConnectionIDLimit:
		if x < 2 {
			return fmt.Errorf("%d is below 2", x)
		}
		p.ActiveConnectionIDLimit = x
	case TPMaxDatagramFrameSize:
		p.MaxDatagramFrameSize = x
	case TPMinAckDelay:
		p.HasMinAckDelay, p.MinAckDelay = true, x
	case TPInitialMaxPathID:
		if x > MaxPathID {
			return fmt.Errorf("%d exceeds 2^32-1", x)
		}
		p.HasInitialMaxPathID, p.InitialMaxPathID = true, x
	case TPObservedAddress:
		if x > 2 {
			return fmt.Errorf("role %d is not 0, 1 or 2", x)
		}
		p.AddressDiscovery = AddressDiscoveryRole(x + 1)
	}
	return nil
}

func (p *TransportParameters) parsePreferredAddress(v []byte) error {
	if len(v) < 4+2+16+2+1 {
		return fmt.Errorf("length %d too short", len(v))
	}
	var pa PreferredAddress
	pa.IPv4 = netip.AddrPortFrom(netip.AddrFrom4([4]byte(v[0:4])), binary.BigEndian.Uint16(v[4:6]))
	pa.IPv6 = netip.AddrPortFrom(netip.AddrFrom16([16]byte(v[6:22])), binary.BigEndian.Uint16(v[22:24]))
	cl := int(v[24])
	if cl == 0 || cl > MaxConnIDLen {
		return fmt.Errorf("connection ID length %d outside 1..20", cl)
	}
	rest := v[25:]
	if len(rest) != cl+ResetTokenLen {
		return fmt.Errorf("length %d, want %d", len(v), 25+cl+ResetTokenLen)
	}
	pa.CID = MustConnID(rest[:cl])
	pa.ResetToken = [ResetTokenLen]byte(rest[cl:])
	p.PreferredAddress = &pa
	return nil
}
