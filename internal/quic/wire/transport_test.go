package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strconv"
	"testing"

	"github.com/iroh-go/iroh/internal/testutil"
)

type capturedParam struct {
	ID       string `json:"id"`
	Len      int    `json:"len"`
	ValueHex string `json:"value_hex"`
}

// rustClientParams re-encodes the transport parameters captured from a
// Rust iroh 1.0 client Initial, in the order it sent them.
func rustClientParams(t testing.TB) []byte {
	t.Helper()
	var v struct {
		Relay struct {
			ClientInitial struct {
				ClientHello struct {
					Extensions struct {
						Params []capturedParam `json:"quic_transport_parameters"`
					} `json:"extensions"`
				} `json:"client_hello"`
			} `json:"client_initial"`
		} `json:"relay"`
	}
	testutil.LoadVectors(t, "core.json", &v)
	params := v.Relay.ClientInitial.ClientHello.Extensions.Params
	if len(params) < 10 {
		t.Fatalf("only %d captured parameters", len(params))
	}
	var b []byte
	for _, p := range params {
		id, err := strconv.ParseUint(p.ID, 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		val, _ := hex.DecodeString(p.ValueHex)
		if len(val) != p.Len {
			t.Fatalf("param %s: %d bytes, len %d", p.ID, len(val), p.Len)
		}
		b = AppendVarint(AppendVarint(b, id), uint64(len(val)))
		b = append(b, val...)
	}
	return b
}

// TestTransportParametersRust decodes what Rust iroh 1.0 sends (spec §6.3,
// including its GREASE parameter) to the documented values.
func TestTransportParametersRust(t *testing.T) {
	b := rustClientParams(t)
	p, err := ParseTransportParameters(b, false)
	if err != nil {
		t.Fatal(err)
	}
	want := NewTransportParameters()
	scid := MustConnID([]byte{0xdf, 0x34, 0xf9, 0x2e, 0x06, 0x1e, 0x15, 0xc7})
	want.InitialSourceCID = &scid
	want.MaxIdleTimeout = 30000
	want.MaxUDPPayloadSize = 1472
	want.InitialMaxData = MaxVarint
	want.InitialMaxStreamDataBidiLocal = 1250000
	want.InitialMaxStreamDataBidiRemote = 1250000
	want.InitialMaxStreamDataUni = 1250000
	want.InitialMaxStreamsBidi = 100
	want.InitialMaxStreamsUni = 100
	want.ActiveConnectionIDLimit = 5
	want.MaxDatagramFrameSize = 65535
	want.HasMinAckDelay, want.MinAckDelay = true, 1000
	want.HasInitialMaxPathID, want.InitialMaxPathID = true, 7
	want.NATTraversal = 32
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
	// Our encoding of the same values decodes to the same, in ID order
	// and randomized with GREASE.
	for _, enc := range [][]byte{want.Append(nil), want.AppendRandomized(nil, rand.New(rand.NewPCG(3, 4))), want.AppendRandomized(nil, nil)} {
		got, err := ParseTransportParameters(enc, false)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("round trip of %x: %+v %v", enc, got, err)
		}
	}
	if len(want.AppendRandomized(nil, nil)) <= len(want.Append(nil)) {
		// A zero-length GREASE value still adds its id and length.
		t.Error("no GREASE parameter added")
	}
}

func TestTransportParametersServer(t *testing.T) {
	p := NewTransportParameters()
	odcid := MustConnID([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	rscid := MustConnID([]byte{9})
	tok := [16]byte{0xaa}
	p.OriginalDestinationCID = &odcid
	p.RetrySourceCID = &rscid
	p.StatelessResetToken = &tok
	p.PreferredAddress = &PreferredAddress{
		IPv4: netip.MustParseAddrPort("192.0.2.1:443"), IPv6: netip.MustParseAddrPort("[2001:db8::1]:443"),
		CID: MustConnID([]byte{5, 5, 5}), ResetToken: [16]byte{1},
	}
	p.DisableActiveMigration = true
	p.GreaseQUICBit = true
	p.AddressDiscovery = AddressDiscoveryBoth
	p.AckDelayExponent = 20
	p.MaxAckDelay = 1<<14 - 1
	got, err := ParseTransportParameters(p.Append(nil), true)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("server round trip: %+v %v", got, err)
	}
	if _, err := ParseTransportParameters(p.Append(nil), false); err == nil {
		t.Error("server-only parameters accepted from a client")
	}
	if p.Validate(true) != nil || p.Validate(false) == nil {
		t.Error("Validate")
	}
	bad := NewTransportParameters()
	bad.ActiveConnectionIDLimit = 1
	var te *TransportParameterError
	if err := bad.Validate(false); !errors.As(err, &te) || te.ID != TPActiveConnectionIDLimit {
		t.Errorf("Validate of active_connection_id_limit 1: %v", err)
	}
}

func TestAddressDiscoveryRole(t *testing.T) {
	for role, wire := range map[AddressDiscoveryRole]byte{AddressDiscoverySendOnly: 0, AddressDiscoveryReceiveOnly: 1, AddressDiscoveryBoth: 2} {
		p := NewTransportParameters()
		p.AddressDiscovery = role
		b := p.Append(nil)
		// The ID needs an 8-byte varint; the value is the role minus one.
		if want := []byte{0xc0, 0, 0, 0, 0x9f, 0x81, 0xa1, 0x76, 1, wire}; !bytes.Equal(b, want) {
			t.Errorf("role %d encodes as %x, want %x", role, b, want)
		}
		got, err := ParseTransportParameters(b, false)
		if err != nil || got.AddressDiscovery != role {
			t.Errorf("role %d: %v %v", role, got.AddressDiscovery, err)
		}
	}
}

func TestTransportParametersErrors(t *testing.T) {
	enc := func(id TransportParameterID, v []byte) []byte {
		return append(AppendVarint(AppendVarint(nil, uint64(id)), uint64(len(v))), v...)
	}
	vi := func(x uint64) []byte { return AppendVarint(nil, x) }
	dup := append(enc(TPMaxIdleTimeout, vi(1)), enc(TPMaxIdleTimeout, vi(1))...)
	for _, c := range []struct {
		name string
		b    []byte
		id   TransportParameterID
	}{
		{"max_udp_payload_size 1199", enc(TPMaxUDPPayloadSize, vi(1199)), TPMaxUDPPayloadSize},
		{"ack_delay_exponent 21", enc(TPAckDelayExponent, vi(21)), TPAckDelayExponent},
		{"max_ack_delay 2^14", enc(TPMaxAckDelay, vi(1<<14)), TPMaxAckDelay},
		{"active_connection_id_limit 1", enc(TPActiveConnectionIDLimit, vi(1)), TPActiveConnectionIDLimit},
		{"streams over 2^60", enc(TPInitialMaxStreamsBidi, vi(1<<60+1)), TPInitialMaxStreamsBidi},
		{"duplicate", dup, TPMaxIdleTimeout},
		{"stateless reset token from client", enc(TPStatelessResetToken, make([]byte, 16)), TPStatelessResetToken},
		{"original dcid from client", enc(TPOriginalDestinationCID, []byte{1}), TPOriginalDestinationCID},
		{"cid too long", enc(TPInitialSourceCID, make([]byte, 21)), TPInitialSourceCID},
		{"varint with trailing byte", enc(TPInitialMaxData, []byte{1, 2}), TPInitialMaxData},
		{"QNT zero", enc(TPN0NATTraversal, []byte{0}), TPN0NATTraversal},
		{"QNT two bytes", enc(TPN0NATTraversal, []byte{0x40, 1}), TPN0NATTraversal},
		{"path id over 2^32", enc(TPInitialMaxPathID, vi(1<<32)), TPInitialMaxPathID},
		{"min_ack_delay over max_ack_delay", enc(TPMinAckDelay, vi(25001)), TPMinAckDelay},
		{"disable_active_migration with value", enc(TPDisableActiveMigration, []byte{1}), TPDisableActiveMigration},
		{"length past end", []byte{0x01, 0x04, 0x01}, TPMaxIdleTimeout},
		{"address discovery role 3", enc(TPObservedAddress, vi(3)), TPObservedAddress},
	} {
		_, err := ParseTransportParameters(c.b, false)
		var te *TransportParameterError
		if !errors.As(err, &te) || te.ID != c.id {
			t.Errorf("%s: %v, want an error naming %v", c.name, err, c.id)
		}
	}
	// Unknown and reserved parameters are skipped, even twice.
	grease := append(enc(27, []byte{1, 2, 3}), enc(27, nil)...)
	if p, err := ParseTransportParameters(grease, false); err != nil || !reflect.DeepEqual(p, NewTransportParameters()) {
		t.Errorf("GREASE: %+v %v", p, err)
	}
}
