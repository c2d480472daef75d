// Package stun is the small part of STUN (RFC 5389) that iroh uses for
// address discovery, as Rust iroh 0.35 did: binding requests without
// attributes, and binding success responses carrying the address the
// server saw in XOR-MAPPED-ADDRESS (MAPPED-ADDRESS is accepted too). The
// relay server answers requests (relay/relayserver); endpoints send them
// from their own socket (internal/magicsock, netreport).
//
// Parsers say what was wrong and at which offset; they never panic and
// allocate only the returned address.
package stun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// STUN (RFC 5389) constants used by the binding service.
const (
	stunHeaderLen      = 20
	stunMagicCookie    = 0x2112A442
	stunBindingRequest = 0x0001
	stunBindingSuccess = 0x0101
	stunAttrXORMapped  = 0x0020
	stunAttrMapped     = 0x0001
	// MaxPacket is the largest STUN message read.
	MaxPacket      = 1500
	stunFamilyIPv4 = 0x01
	stunFamilyIPv6 = 0x02
)

// TxID is a STUN transaction id.
type TxID [12]byte

// ParseRequest checks that b is a STUN binding request (RFC 5389
// header: type 0x0001, length matching the packet and a multiple of 4, the
// magic cookie) and returns its transaction id. Attributes are not
// interpreted.
func ParseRequest(b []byte) (TxID, error) {
	var tx TxID
	if len(b) < stunHeaderLen {
		return tx, fmt.Errorf("stun: packet of %d bytes shorter than the 20-byte header", len(b))
	}
	if t := binary.BigEndian.Uint16(b); t != stunBindingRequest {
		return tx, fmt.Errorf("stun: message type %#04x at offset 0, want binding request 0x0001", t)
	}
	if n := int(binary.BigEndian.Uint16(b[2:])); n != len(b)-stunHeaderLen || n%4 != 0 {
		return tx, fmt.Errorf("stun: length field %d at offset 2, but %d bytes follow the header", n, len(b)-stunHeaderLen)
	}
	if c := binary.BigEndian.Uint32(b[4:]); c != stunMagicCookie {
		return tx, fmt.Errorf("stun: magic cookie %#08x at offset 4, want 0x2112a442", c)
	}
	copy(tx[:], b[8:20])
	return tx, nil
}

// AppendRequest appends a binding request without attributes.
func AppendRequest(b []byte, tx TxID) []byte {
	b = binary.BigEndian.AppendUint16(b, stunBindingRequest)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, stunMagicCookie)
	return append(b, tx[:]...)
}

// AppendResponse appends a binding success response for tx
// reporting addr in an XOR-MAPPED-ADDRESS attribute.
func AppendResponse(b []byte, tx TxID, addr netip.AddrPort) []byte {
	ip := addr.Addr().Unmap()
	alen := 8
	if ip.Is6() {
		alen = 20
	}
	start := len(b)
	b = binary.BigEndian.AppendUint16(b, stunBindingSuccess)
	b = binary.BigEndian.AppendUint16(b, uint16(4+alen))
	b = binary.BigEndian.AppendUint32(b, stunMagicCookie)
	b = append(b, tx[:]...)
	b = binary.BigEndian.AppendUint16(b, stunAttrXORMapped)
	b = binary.BigEndian.AppendUint16(b, uint16(alen))
	fam := byte(stunFamilyIPv4)
	if ip.Is6() {
		fam = stunFamilyIPv6
	}
	b = append(b, 0, fam)
	b = binary.BigEndian.AppendUint16(b, addr.Port()^uint16(stunMagicCookie>>16))
	xor := b[start+4 : start+20] // cookie + transaction id
	raw := ip.AsSlice()
	for i := range raw {
		raw[i] ^= xor[i]
	}
	return append(b, raw...)
}

// ParseResponse parses a binding success response and returns
// its transaction id and the XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS).
func ParseResponse(b []byte) (TxID, netip.AddrPort, error) {
	var tx TxID
	if len(b) < stunHeaderLen {
		return tx, netip.AddrPort{}, fmt.Errorf("stun: packet of %d bytes shorter than the 20-byte header", len(b))
	}
	if t := binary.BigEndian.Uint16(b); t != stunBindingSuccess {
		return tx, netip.AddrPort{}, fmt.Errorf("stun: message type %#04x, want binding success 0x0101", t)
	}
	if n := int(binary.BigEndian.Uint16(b[2:])); n != len(b)-stunHeaderLen {
		return tx, netip.AddrPort{}, fmt.Errorf("stun: length field %d, but %d bytes follow the header", n, len(b)-stunHeaderLen)
	}
	if binary.BigEndian.Uint32(b[4:]) != stunMagicCookie {
		return tx, netip.AddrPort{}, errors.New("stun: bad magic cookie")
	}
	copy(tx[:], b[8:20])
	var found netip.AddrPort
	for a := b[stunHeaderLen:]; len(a) > 0; {
		if len(a) < 4 {
			return tx, netip.AddrPort{}, fmt.Errorf("stun: truncated attribute header at offset %d", len(b)-len(a))
		}
		t, n := binary.BigEndian.Uint16(a), int(binary.BigEndian.Uint16(a[2:]))
		padded := (n + 3) &^ 3
		if len(a)-4 < n {
			return tx, netip.AddrPort{}, fmt.Errorf("stun: attribute %#04x of %d bytes overruns the packet at offset %d", t, n, len(b)-len(a))
		}
		v := a[4 : 4+n]
		if t == stunAttrXORMapped || (t == stunAttrMapped && !found.IsValid()) {
			if len(v) != 8 && len(v) != 20 {
				return tx, netip.AddrPort{}, fmt.Errorf("stun: address attribute of %d bytes", len(v))
			}
			port := binary.BigEndian.Uint16(v[2:])
			raw := append([]byte(nil), v[4:]...)
			if t == stunAttrXORMapped {
				port ^= uint16(stunMagicCookie >> 16)
				for i := range raw {
					raw[i] ^= b[4+i]
				}
			}
			ip, _ := netip.AddrFromSlice(raw)
			found = netip.AddrPortFrom(ip, port)
		}
		a = a[min(4+padded, len(a)):]
	}
	if !found.IsValid() {
		return tx, netip.AddrPort{}, errors.New("stun: response has no mapped address")
	}
	return tx, found, nil
}

// Is reports whether b looks like a STUN message (two top bits zero, magic
// cookie): cheap enough for a receive path that demultiplexes QUIC, disco
// and STUN on one socket. QUIC packets always have the second bit set.
func Is(b []byte) bool {
	return len(b) >= stunHeaderLen && b[0]&0xc0 == 0 && binary.BigEndian.Uint32(b[4:]) == stunMagicCookie
}
