package netreport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// STUN (RFC 5389) constants of the binding exchange.
const (
	stunHeaderLen      = 20
	stunMagicCookie    = 0x2112A442
	stunBindingRequest = 0x0001
	stunBindingSuccess = 0x0101
	attrMappedAddress  = 0x0001
	attrXORMapped      = 0x0020
	attrXORMappedOld   = 0x8020 // pre-RFC 5389 servers
)

// TxID is a STUN transaction id.
type TxID [12]byte

// BuildBindingRequest returns a binding request without attributes.
func BuildBindingRequest(tx TxID) []byte {
	b := make([]byte, 0, stunHeaderLen)
	b = binary.BigEndian.AppendUint16(b, stunBindingRequest)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, stunMagicCookie)
	return append(b, tx[:]...)
}

// IsSTUN reports whether b looks like a STUN message (top bits zero, magic
// cookie): cheap enough for a receive path that demultiplexes QUIC, disco
// and STUN on one socket.
func IsSTUN(b []byte) bool {
	return len(b) >= stunHeaderLen && b[0]&0xc0 == 0 && binary.BigEndian.Uint32(b[4:]) == stunMagicCookie
}

// ParseBindingResponse parses a binding success response and returns its
// transaction id and the mapped address (XOR-MAPPED-ADDRESS preferred,
// MAPPED-ADDRESS otherwise).
func ParseBindingResponse(b []byte) (TxID, netip.AddrPort, error) {
	var tx TxID
	if !IsSTUN(b) {
		return tx, netip.AddrPort{}, errors.New("stun: not a STUN message")
	}
	if t := binary.BigEndian.Uint16(b); t != stunBindingSuccess {
		return tx, netip.AddrPort{}, fmt.Errorf("stun: message type %#04x, want binding success 0x0101", t)
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n != len(b)-stunHeaderLen || n%4 != 0 {
		return tx, netip.AddrPort{}, fmt.Errorf("stun: length field %d, but %d bytes follow the header", n, len(b)-stunHeaderLen)
	}
	copy(tx[:], b[8:20])
	var mapped, xored netip.AddrPort
	attrs := b[stunHeaderLen:]
	for len(attrs) >= 4 {
		typ := binary.BigEndian.Uint16(attrs)
		l := int(binary.BigEndian.Uint16(attrs[2:]))
		if 4+l > len(attrs) {
			return tx, netip.AddrPort{}, fmt.Errorf("stun: attribute %#04x of length %d overruns the message", typ, l)
		}
		val := attrs[4 : 4+l]
		switch typ {
		case attrXORMapped, attrXORMappedOld:
			ap, err := parseAddr(val, true, tx)
			if err != nil {
				return tx, netip.AddrPort{}, err
			}
			xored = ap
		case attrMappedAddress:
			ap, err := parseAddr(val, false, tx)
			if err != nil {
				return tx, netip.AddrPort{}, err
			}
			mapped = ap
		}
		pad := (4 - l%4) % 4
		if 4+l+pad > len(attrs) {
			break
		}
		attrs = attrs[4+l+pad:]
	}
	switch {
	case xored.IsValid():
		return tx, xored, nil
	case mapped.IsValid():
		return tx, mapped, nil
	}
	return tx, netip.AddrPort{}, errors.New("stun: response has no mapped address")
}

func parseAddr(v []byte, xor bool, tx TxID) (netip.AddrPort, error) {
	if len(v) < 4 {
		return netip.AddrPort{}, fmt.Errorf("stun: address attribute of %d bytes", len(v))
	}
	fam := v[1]
	port := binary.BigEndian.Uint16(v[2:])
	if xor {
		port ^= stunMagicCookie >> 16
	}
	var key [16]byte
	binary.BigEndian.PutUint32(key[:], stunMagicCookie)
	copy(key[4:], tx[:])
	switch fam {
	case 1:
		if len(v) != 8 {
			return netip.AddrPort{}, fmt.Errorf("stun: IPv4 address attribute of %d bytes, want 8", len(v))
		}
		var a [4]byte
		copy(a[:], v[4:8])
		if xor {
			for i := range a {
				a[i] ^= key[i]
			}
		}
		return netip.AddrPortFrom(netip.AddrFrom4(a), port), nil
	case 2:
		if len(v) != 20 {
			return netip.AddrPort{}, fmt.Errorf("stun: IPv6 address attribute of %d bytes, want 20", len(v))
		}
		var a [16]byte
		copy(a[:], v[4:20])
		if xor {
			for i := range a {
				a[i] ^= key[i]
			}
		}
		return netip.AddrPortFrom(netip.AddrFrom16(a), port), nil
	}
	return netip.AddrPort{}, fmt.Errorf("stun: address family %d", fam)
}

// appendResponse builds a binding success response (tests, fuzz seeds).
func appendResponse(b []byte, tx TxID, ap netip.AddrPort) []byte {
	var val []byte
	val = append(val, 0)
	var key [16]byte
	binary.BigEndian.PutUint32(key[:], stunMagicCookie)
	copy(key[4:], tx[:])
	if ap.Addr().Is4() {
		val = append(val, 1)
		val = binary.BigEndian.AppendUint16(val, ap.Port()^stunMagicCookie>>16)
		a := ap.Addr().As4()
		for i := range a {
			val = append(val, a[i]^key[i])
		}
	} else {
		val = append(val, 2)
		val = binary.BigEndian.AppendUint16(val, ap.Port()^stunMagicCookie>>16)
		a := ap.Addr().As16()
		for i := range a {
			val = append(val, a[i]^key[i])
		}
	}
	b = binary.BigEndian.AppendUint16(b, stunBindingSuccess)
	b = binary.BigEndian.AppendUint16(b, uint16(4+len(val)))
	b = binary.BigEndian.AppendUint32(b, stunMagicCookie)
	b = append(b, tx[:]...)
	b = binary.BigEndian.AppendUint16(b, attrXORMapped)
	b = binary.BigEndian.AppendUint16(b, uint16(len(val)))
	return append(b, val...)
}
