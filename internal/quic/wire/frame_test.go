package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// sampleFrames is one of each frame kind, with the variants that change
// the encoding. Also the seeds of the fuzz targets.
func sampleFrames() []Frame {
	data := []byte("hello, world")
	tok := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	ranges := []AckRange{{Smallest: 90, Largest: 100}, {Smallest: 50, Largest: 80}, {Smallest: 0, Largest: 10}}
	return []Frame{
		{Type: FramePadding, Padding: 5},
		{Type: FramePing},
		{Type: FrameHandshakeDone},
		{Type: FrameImmediateAck},
		{Type: FrameAck, Ack: AckFrame{Delay: 25, Ranges: ranges[:1]}},
		{Type: FrameAck, Ack: AckFrame{Delay: 1 << 20, Ranges: ranges}},
		{Type: FrameAckECN, Ack: AckFrame{Delay: 3, Ranges: ranges, ECN: true, ECT0: 10, ECT1: 1 << 40, ECNCE: 3}},
		{Type: FramePathAck, Ack: AckFrame{Multipath: true, PathID: 7, Delay: 3, Ranges: ranges[:2]}},
		{Type: FramePathAckECN, Ack: AckFrame{Multipath: true, PathID: MaxPathID, Ranges: ranges, ECN: true, ECT0: 1}},
		{Type: FrameResetStream, ResetStream: ResetStreamFrame{StreamID: 4, Code: 0x1234, FinalSize: 1 << 33}},
		{Type: FrameStopSending, StopSending: StopSendingFrame{StreamID: 7, Code: 99}},
		{Type: FrameCrypto, Crypto: CryptoFrame{Offset: 1000, Data: data}},
		{Type: FrameNewToken, NewToken: NewTokenFrame{Token: data}},
		{Type: FrameStream, Stream: StreamFrame{StreamID: 0, Data: data}},
		{Type: FrameStream, Stream: StreamFrame{StreamID: 1 << 50, Offset: 1 << 40, Data: data, Fin: true}},
		{Type: FrameStream, Stream: StreamFrame{StreamID: 8, Data: nil, Fin: true}},
		{Type: FrameStream, Stream: StreamFrame{StreamID: 3, Offset: 5, Data: data, OmitLen: true}},
		{Type: FrameMaxData, MaxData: MaxDataFrame{Max: MaxVarint}},
		{Type: FrameMaxStreamData, MaxStreamData: MaxStreamDataFrame{StreamID: 2, Max: 1 << 20}},
		{Type: FrameMaxStreamsBidi, MaxStreams: MaxStreamsFrame{Max: 100}},
		{Type: FrameMaxStreamsUni, MaxStreams: MaxStreamsFrame{Uni: true, Max: MaxStreamCount}},
		{Type: FrameDataBlocked, DataBlocked: DataBlockedFrame{Limit: 12345}},
		{Type: FrameStreamDataBlocked, StreamDataBlocked: StreamDataBlockedFrame{StreamID: 4, Limit: 9}},
		{Type: FrameStreamsBlockedBidi, StreamsBlocked: StreamsBlockedFrame{Limit: 3}},
		{Type: FrameStreamsBlockedUni, StreamsBlocked: StreamsBlockedFrame{Uni: true, Limit: 4}},
		{Type: FrameNewConnectionID, NewConnectionID: NewConnectionIDFrame{Seq: 3, RetirePriorTo: 1, CID: data[:8], ResetToken: tok}},
		{Type: FramePathNewConnectionID, NewConnectionID: NewConnectionIDFrame{Multipath: true, PathID: 2, Seq: 9, CID: bytes.Repeat([]byte{7}, 20), ResetToken: tok}},
		{Type: FrameRetireConnectionID, RetireConnectionID: RetireConnectionIDFrame{Seq: 77}},
		{Type: FramePathRetireConnectionID, RetireConnectionID: RetireConnectionIDFrame{Multipath: true, PathID: 1, Seq: 2}},
		{Type: FramePathChallenge, PathChallenge: PathChallengeFrame{Data: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}}},
		{Type: FramePathResponse, PathChallenge: PathChallengeFrame{Response: true, Data: [8]byte{8, 7}}},
		{Type: FrameConnectionClose, ConnectionClose: ConnectionCloseFrame{Code: 0x0a, FrameType: FrameStream, Reason: []byte("bad")}},
		{Type: FrameApplicationClose, ConnectionClose: ConnectionCloseFrame{Application: true, Code: 42, Reason: []byte{}}},
		{Type: FrameDatagram, Datagram: DatagramFrame{Data: data, OmitLen: true}},
		{Type: FrameDatagram, Datagram: DatagramFrame{Data: data}},
		{Type: FrameAckFrequency, AckFrequency: AckFrequencyFrame{Seq: 1, AckElicitingThreshold: 10, RequestMaxAckDelay: 25000, ReorderingThreshold: 3}},
		{Type: FramePathAbandon, PathAbandon: PathAbandonFrame{PathID: 3, Code: 0x3f}},
		{Type: FramePathStatusBackup, PathStatus: PathStatusFrame{PathID: 1, Seq: 4}},
		{Type: FramePathStatusAvailable, PathStatus: PathStatusFrame{Available: true, PathID: 0, Seq: 5}},
		{Type: FrameMaxPathID, MaxPathID: MaxPathIDFrame{PathID: 7}},
		{Type: FramePathsBlocked, MaxPathID: MaxPathIDFrame{Blocked: true, PathID: 7}},
		{Type: FramePathCIDsBlocked, PathCIDsBlocked: PathCIDsBlockedFrame{PathID: 2, NextSeq: 8}},
		{Type: FrameAddAddressIPv4, Address: AddressFrame{Kind: FrameAddAddressIPv4, Seq: 1, Addr: netip.MustParseAddrPort("192.0.2.1:4433")}},
		{Type: FrameAddAddressIPv6, Address: AddressFrame{Kind: FrameAddAddressIPv4, Seq: 2, Addr: netip.MustParseAddrPort("[2001:db8::1]:443")}},
		{Type: FrameReachOutIPv4, Address: AddressFrame{Kind: FrameReachOutIPv4, Seq: 3, Addr: netip.MustParseAddrPort("10.0.0.1:1")}},
		{Type: FrameReachOutIPv6, Address: AddressFrame{Kind: FrameReachOutIPv4, Seq: 4, Addr: netip.MustParseAddrPort("[fe80::1]:65535")}},
		{Type: FrameRemoveAddress, RemoveAddress: RemoveAddressFrame{Seq: 6}},
		{Type: FrameObservedAddressIPv4, Address: AddressFrame{Kind: FrameObservedAddressIPv4, Seq: 0, Addr: netip.MustParseAddrPort("203.0.113.9:9")}},
		{Type: FrameObservedAddressIPv6, Address: AddressFrame{Kind: FrameObservedAddressIPv4, Seq: 9, Addr: netip.MustParseAddrPort("[2001:db8::2]:2")}},
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for _, want := range sampleFrames() {
		t.Run(want.Type.String(), func(t *testing.T) {
			b := AppendFrame(nil, &want)
			if l := want.Len(); l != len(b) {
				t.Errorf("Len = %d, encoded %d bytes", l, len(b))
			}
			var got Frame
			n, err := ParseFrame(b, &got)
			if err != nil {
				t.Fatalf("parse %x: %v", b, err)
			}
			if n != len(b) {
				t.Errorf("consumed %d of %d", n, len(b))
			}
			if got.Type != want.Type {
				t.Errorf("type %v, want %v", got.Type, want.Type)
			}
			if b2 := AppendFrame(nil, &got); !bytes.Equal(b, b2) {
				t.Errorf("re-encoded %x, want %x", b2, b)
			}
			got.ackBuf = nil
			if want.Ack.Ranges != nil && !reflect.DeepEqual(got.Ack, want.Ack) {
				t.Errorf("ack %+v, want %+v", got.Ack, want.Ack)
			}
			// Every truncation is an error, never a panic.
			for i := range len(b) - 1 {
				if want.Type == FramePadding || (want.Type.IsStream() && want.Stream.OmitLen) || (want.Type == FrameDatagram && want.Datagram.OmitLen) {
					break
				}
				if _, err := ParseFrame(b[:i], &got); err == nil {
					t.Errorf("truncated to %d bytes: no error", i)
				}
			}
		})
	}
}

func TestFrameErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		b     []byte
		field string
	}{
		{"unknown type", []byte{0x21}, "type"},
		{"non-minimal type", []byte{0x40, 0x01}, "type"},
		{"ack below zero", []byte{0x02, 5, 0, 0, 6}, "first range"},
		{"ack gap below zero", []byte{0x02, 5, 0, 1, 0, 4, 0}, "gap"},
		{"ack too many ranges", append(append([]byte{0x02, 5, 0}, AppendVarint(nil, MaxAckRanges)...), 0), "range count"},
		{"empty token", []byte{0x07, 0}, "length"},
		{"stream past 2^62", append(append([]byte{0x0e, 0}, AppendVarint(nil, MaxVarint)...), 1, 0), "length"},
		{"max streams over 2^60", append([]byte{0x12}, AppendVarint(nil, MaxStreamCount+1)...), "maximum streams"},
		{"cid length 0", append([]byte{0x18, 1, 0, 0}, make([]byte, 16)...), "length"},
		{"cid length 21", append([]byte{0x18, 1, 0, 21}, make([]byte, 37)...), "length"},
		{"retire prior to above seq", append([]byte{0x18, 1, 2, 1, 1}, make([]byte, 16)...), "retire prior to"},
		{"path id over 2^32", append([]byte{0x3e}, AppendVarint(nil, 1<<32)...), "path ID"},
		{"data length past end", []byte{0x31, 5, 1, 2}, "data"},
	} {
		var f Frame
		_, err := ParseFrame(c.b, &f)
		var fe *FrameError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: %v, want a FrameError on %q", c.name, err, c.field)
		}
	}
}

func TestAddressFrameKind(t *testing.T) {
	for _, kind := range []FrameType{FrameAddAddressIPv4, FrameAddAddressIPv6} {
		for _, a := range []string{"10.0.0.1:5", "[::1]:5"} {
			f := AddressFrame{Kind: kind, Seq: 1, Addr: netip.MustParseAddrPort(a)}
			got, _, err := ParseAddress(f.Append(nil))
			if err != nil || got.Kind != FrameAddAddressIPv4 || got.Addr != f.Addr {
				t.Errorf("kind %#x addr %s: %+v %v", uint64(kind), a, got, err)
			}
		}
	}
}

func TestFrameAllowed(t *testing.T) {
	for _, c := range []struct {
		t    FrameType
		p    PacketType
		want bool
	}{
		{FrameCrypto, PacketInitial, true}, {FrameAck, PacketHandshake, true}, {FrameConnectionClose, PacketInitial, true},
		{FrameApplicationClose, PacketInitial, false}, {0x08, PacketInitial, false}, {0x0f, Packet0RTT, true},
		{FrameAck, Packet0RTT, false}, {FrameCrypto, Packet0RTT, false}, {FrameNewToken, Packet0RTT, false},
		{FramePathResponse, Packet0RTT, false}, {FrameHandshakeDone, Packet0RTT, false}, {FrameDatagram, Packet0RTT, true},
		{FrameRetireConnectionID, Packet0RTT, true}, {FramePathAck, Packet0RTT, false}, {FramePathAck, Packet1RTT, true},
		{FrameAddAddressIPv6, Packet1RTT, true}, {0x21, Packet1RTT, false}, {FramePing, PacketRetry, false},
	} {
		if got := c.t.Allowed(c.p); got != c.want {
			t.Errorf("%v in %v: %v, want %v", c.t, c.p, got, c.want)
		}
	}
	if FramePathAck.AckEliciting() || !FrameStream.AckEliciting() || FramePadding.AckEliciting() {
		t.Error("AckEliciting")
	}
}

func TestFrameIter(t *testing.T) {
	var payload []byte
	frames := sampleFrames()
	n := 0
	for i := range frames {
		if (frames[i].Type == FrameDatagram && frames[i].Datagram.OmitLen) || (frames[i].Type.IsStream() && frames[i].Stream.OmitLen) {
			continue // only last in a packet
		}
		payload = AppendFrame(payload, &frames[i])
		n++
	}
	it := NewFrameIter(payload)
	got := 0
	for it.Next() {
		if s := it.Frame().String(); s == "" || strings.Contains(s, "%!") {
			t.Errorf("String of %v: %q", it.Frame().Type, s)
		}
		if b := it.Bytes(); len(b) == 0 || !bytes.Equal(b, AppendFrame(nil, it.Frame())) && it.Frame().Type != FramePadding {
			t.Errorf("Bytes of %v: %x", it.Frame().Type, b)
		}
		got++
	}
	if it.Err() != nil || got != n || it.Offset() != len(payload) {
		t.Fatalf("iterated %d of %d frames, offset %d of %d: %v", got, n, it.Offset(), len(payload), it.Err())
	}
	it.Reset(append(payload, 0x21))
	for it.Next() {
	}
	if it.Err() == nil {
		t.Error("unknown trailing frame: no error")
	}
}

// packetOfStreamsAndAcks is a 1200-byte payload: an ACK with 8 ranges and
// STREAM frames.
func packetOfStreamsAndAcks() []byte {
	ranges := make([]AckRange, 8)
	for i := range ranges {
		top := uint64(1000 - 10*i)
		ranges[i] = AckRange{Smallest: top - 5, Largest: top}
	}
	ack := AckFrame{Delay: 100, Ranges: ranges}
	b := ack.Append(nil)
	data := make([]byte, 100)
	for off := uint64(0); len(b) < 1100; off += 100 {
		s := StreamFrame{StreamID: 4, Offset: 1<<20 + off, Data: data}
		b = s.Append(b)
	}
	return b
}

func TestParseNoAllocs(t *testing.T) {
	payload := packetOfStreamsAndAcks()
	it := NewFrameIter(payload)
	allocs := testing.AllocsPerRun(100, func() {
		it.Reset(payload)
		for it.Next() {
		}
		if it.Err() != nil {
			t.Fatal(it.Err())
		}
	})
	if allocs != 0 {
		t.Errorf("FrameIter: %v allocs per packet", allocs)
	}
	buf := make([]byte, 0, 1500)
	frames := sampleFrames()
	allocs = testing.AllocsPerRun(100, func() {
		b := buf[:0]
		for i := range frames {
			b = AppendFrame(b, &frames[i])
		}
	})
	if allocs != 0 {
		t.Errorf("AppendFrame: %v allocs", allocs)
	}
}

func BenchmarkParsePacket(b *testing.B) {
	payload := packetOfStreamsAndAcks()
	it := NewFrameIter(payload)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		it.Reset(payload)
		for it.Next() {
		}
	}
}

func BenchmarkAppendPacket(b *testing.B) {
	payload := packetOfStreamsAndAcks()
	var frames []Frame
	it := NewFrameIter(payload)
	for it.Next() {
		f := *it.Frame()
		f.Ack.Ranges = append([]AckRange(nil), f.Ack.Ranges...)
		f.ackBuf = nil
		frames = append(frames, f)
	}
	buf := make([]byte, 0, 1500)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		out := buf[:0]
		for i := range frames {
			out = AppendFrame(out, &frames[i])
		}
	}
}

func TestAckFitTo(t *testing.T) {
	ranges := make([]AckRange, 100)
	for i := range ranges {
		top := uint64(100000 - 1000*i)
		ranges[i] = AckRange{Smallest: top - 10, Largest: top}
	}
	f := AckFrame{Delay: 5, Ranges: ranges}
	full := f.Len()
	if !f.FitTo(full) || len(f.Ranges) != 100 {
		t.Fatal("FitTo(full length) dropped ranges")
	}
	if !f.FitTo(full/2) || f.Len() > full/2 || len(f.Ranges) >= 100 || f.Ranges[0] != ranges[0] {
		t.Fatalf("FitTo(%d): %d ranges, %d bytes", full/2, len(f.Ranges), f.Len())
	}
	for n := 0; n <= full+1; n++ {
		h := AckFrame{Delay: 5, Ranges: ranges}
		ok := h.FitTo(n)
		if ok && (h.Len() > n || (len(h.Ranges) < 100 && (&AckFrame{Delay: 5, Ranges: ranges[:len(h.Ranges)+1]}).Len() <= n)) {
			t.Fatalf("FitTo(%d): %d ranges of %d bytes, not the most that fit", n, len(h.Ranges), h.Len())
		}
		if !ok && (&AckFrame{Delay: 5, Ranges: ranges[:1]}).Len() <= n {
			t.Fatalf("FitTo(%d) failed though one range fits", n)
		}
	}
	g := AckFrame{Ranges: ranges[:3]}
	if g.FitTo(3) || len(g.Ranges) != 3 {
		t.Error("FitTo below one range succeeded or changed the ranges")
	}
	var b Builder
	b.Reset(make([]byte, 0, 200), 200)
	b.StartShort(make([]byte, 8), 1, 1, false, false, 16)
	h := AckFrame{Ranges: ranges}
	if !b.AddAck(&h) || len(h.Ranges) == 100 {
		t.Fatalf("AddAck in 200 bytes kept %d ranges", len(h.Ranges))
	}
	if _, ok := b.Finish(0); !ok || len(b.Datagram()) > 200 {
		t.Fatalf("datagram %d bytes", len(b.Datagram()))
	}
}
