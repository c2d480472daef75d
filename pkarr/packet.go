package pkarr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/iroh-go/iroh/key"
	"github.com/miekg/dns"
)

const (
	// HeaderSize is the size of the fixed part of a signed packet: public
	// key, signature and timestamp.
	HeaderSize = key.Size + key.SignatureSize + 8

	// MaxDNSSize is the largest DNS message a signed packet may carry. It
	// is the limit of a BEP 44 mutable item value, which pkarr packets are
	// designed to fit in.
	MaxDNSSize = 1000

	// MaxPacketSize is the largest signed packet: HeaderSize + MaxDNSSize.
	MaxPacketSize = HeaderSize + MaxDNSSize

	// ContentType is the media type of a signed packet body (without the
	// public key) on the pkarr relay HTTP API.
	ContentType = "application/x-pkarr-signed-packet"
)

// ErrTooLarge reports a packet or DNS message over the size limits.
var ErrTooLarge = errors.New("pkarr: packet too large")

// SignedPacket is a verified pkarr packet: a DNS message signed by the
// Ed25519 key it describes. Values returned by Sign, ParseSignedPacket and
// ParseRelayPayload have been verified; a SignedPacket assembled by hand
// should be checked with Verify.
type SignedPacket struct {
	// Key is the signer, whose z32 form the records are relative to.
	Key key.PublicKey
	// Signature signs Signable(Timestamp, DNS) with Key.
	Signature key.Signature
	// Timestamp is microseconds since the Unix epoch; newer packets replace
	// older ones.
	Timestamp uint64
	// DNS is the encoded DNS message. It must not be modified.
	DNS []byte
}

// PacketError says what was wrong with a signed packet and where.
type PacketError struct {
	Offset int    // byte offset in the input the problem was found at
	Msg    string // what was wrong
	Err    error  // underlying error, if any (ErrTooLarge, key.ErrBadSignature, a DNS error)
}

func (e *PacketError) Error() string {
	s := fmt.Sprintf("pkarr packet: offset %d: %s", e.Offset, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *PacketError) Unwrap() error { return e.Err }

// Signable returns the bytes a packet's signature covers:
// "3:seqi<ts>e1:v<len(dns)>:" followed by dns.
func Signable(ts uint64, dnsMsg []byte) []byte {
	b := make([]byte, 0, 40+len(dnsMsg))
	b = append(b, "3:seqi"...)
	b = strconv.AppendUint(b, ts, 10)
	b = append(b, "e1:v"...)
	b = strconv.AppendInt(b, int64(len(dnsMsg)), 10)
	b = append(b, ':')
	return append(b, dnsMsg...)
}

// Sign signs the DNS message dnsMsg with sk at timestamp ts (use Now for
// a fresh one). It fails if dnsMsg is over MaxDNSSize or does not parse
// as a DNS message. dnsMsg is copied.
func Sign(sk key.SecretKey, ts uint64, dnsMsg []byte) (SignedPacket, error) {
	if len(dnsMsg) > MaxDNSSize {
		return SignedPacket{}, fmt.Errorf("pkarr: sign: DNS message is %d bytes, max %d: %w", len(dnsMsg), MaxDNSSize, ErrTooLarge)
	}
	if err := new(dns.Msg).Unpack(dnsMsg); err != nil {
		return SignedPacket{}, fmt.Errorf("pkarr: sign: invalid DNS message: %w", err)
	}
	d := bytes.Clone(dnsMsg)
	return SignedPacket{Key: sk.Public(), Signature: sk.Sign(Signable(ts, d)), Timestamp: ts, DNS: d}, nil
}

// Verify checks the sizes, the key, the signature and that the DNS
// message parses.
func (p SignedPacket) Verify() error {
	if len(p.DNS) > MaxDNSSize {
		return &PacketError{Offset: HeaderSize, Msg: fmt.Sprintf("DNS message is %d bytes, max %d", len(p.DNS), MaxDNSSize), Err: ErrTooLarge}
	}
	if !p.Key.Valid() {
		return &PacketError{Offset: 0, Msg: "public key", Err: key.ErrInvalidPoint}
	}
	if !p.Key.Verify(Signable(p.Timestamp, p.DNS), p.Signature) {
		return &PacketError{Offset: key.Size, Msg: "signature", Err: key.ErrBadSignature}
	}
	if err := new(dns.Msg).Unpack(p.DNS); err != nil {
		return &PacketError{Offset: HeaderSize, Msg: "DNS message does not parse", Err: err}
	}
	return nil
}

// ParseSignedPacket parses and verifies a full signed packet (public key
// first). The returned packet's DNS aliases b.
func ParseSignedPacket(b []byte) (SignedPacket, error) {
	if len(b) > MaxPacketSize {
		return SignedPacket{}, &PacketError{Offset: MaxPacketSize, Msg: fmt.Sprintf("packet is %d bytes, max %d", len(b), MaxPacketSize), Err: ErrTooLarge}
	}
	if len(b) < HeaderSize {
		return SignedPacket{}, &PacketError{Offset: len(b), Msg: fmt.Sprintf("packet is %d bytes, shorter than the %d-byte header", len(b), HeaderSize)}
	}
	k, err := key.PublicKeyFromBytes(b[:key.Size])
	if err != nil {
		return SignedPacket{}, &PacketError{Offset: 0, Msg: "public key", Err: err}
	}
	return parseBody(k, b[key.Size:], key.Size)
}

// ParseRelayPayload parses and verifies the body of a pkarr relay PUT or
// GET (the signed packet without the public key), signed by k. The
// returned packet's DNS aliases b.
func ParseRelayPayload(k key.PublicKey, b []byte) (SignedPacket, error) {
	if len(b) > MaxPacketSize-key.Size {
		return SignedPacket{}, &PacketError{Offset: MaxPacketSize - key.Size, Msg: fmt.Sprintf("payload is %d bytes, max %d", len(b), MaxPacketSize-key.Size), Err: ErrTooLarge}
	}
	if !k.Valid() {
		return SignedPacket{}, &PacketError{Msg: "public key", Err: key.ErrInvalidPoint}
	}
	return parseBody(k, b, 0)
}

// parseBody parses signature || timestamp || dns; off is the offset of b
// in the caller's input, for errors.
func parseBody(k key.PublicKey, b []byte, off int) (SignedPacket, error) {
	const fixed = key.SignatureSize + 8
	if len(b) < fixed {
		return SignedPacket{}, &PacketError{Offset: off + len(b), Msg: fmt.Sprintf("truncated: %d bytes after the key, need at least %d", len(b), fixed)}
	}
	p := SignedPacket{Key: k, Timestamp: binary.BigEndian.Uint64(b[key.SignatureSize:fixed]), DNS: b[fixed:]}
	copy(p.Signature[:], b[:key.SignatureSize])
	if err := p.Verify(); err != nil {
		if pe, ok := err.(*PacketError); ok && pe.Offset > 0 {
			pe.Offset += off - key.Size
		}
		return SignedPacket{}, err
	}
	return p, nil
}

// Len returns the encoded length of the full packet.
func (p SignedPacket) Len() int { return HeaderSize + len(p.DNS) }

// AppendBytes appends the full signed packet (public key first) to b.
func (p SignedPacket) AppendBytes(b []byte) []byte {
	b = append(b, p.Key[:]...)
	return p.AppendRelayPayload(b)
}

// AppendRelayPayload appends the relay HTTP body (the packet without the
// public key) to b.
func (p SignedPacket) AppendRelayPayload(b []byte) []byte {
	b = append(b, p.Signature[:]...)
	b = binary.BigEndian.AppendUint64(b, p.Timestamp)
	return append(b, p.DNS...)
}

// MoreRecentThan reports whether p replaces q under the newer-wins rule:
// a higher timestamp wins; on equal timestamps the bytewise larger DNS
// message wins. A packet is not more recent than itself.
func (p SignedPacket) MoreRecentThan(q SignedPacket) bool {
	if p.Timestamp != q.Timestamp {
		return p.Timestamp > q.Timestamp
	}
	return bytes.Compare(p.DNS, q.DNS) > 0
}

// Time returns the packet's timestamp as a time.Time.
func (p SignedPacket) Time() time.Time { return time.UnixMicro(int64(p.Timestamp)) }

var clock struct {
	mu   sync.Mutex
	last uint64
}

// Now returns the current time in microseconds since the Unix epoch,
// strictly greater than any value it returned before in this process (if
// the wall clock stalls or steps back, it counts on from the last value).
func Now() uint64 {
	t := uint64(time.Now().UnixMicro())
	clock.mu.Lock()
	defer clock.mu.Unlock()
	if t <= clock.last {
		t = clock.last + 1
	}
	clock.last = t
	return t
}
