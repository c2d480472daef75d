package proto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/iroh-go/iroh/internal/testutil"
)

type gossipVectors struct {
	Gossip struct {
		V035 struct {
			TopicHex         string `json:"topic_hex"`
			SentJoinFrameHex string `json:"sent_join_frame_hex"`
			OurPeerDataHex   string `json:"our_peer_data_hex"`
			ReplyFrameHex    string `json:"reply_frame_hex"`
			SentGossipFrame  string `json:"sent_gossip_frame_hex"`
			MessageIDHex     string `json:"message_id_hex"`
			SentSpoofedFrame string `json:"sent_spoofed_frame_hex"`
			SentDisconnect   string `json:"sent_disconnect_frame_hex"`
			RustJoinerFirst  string `json:"rust_joiner_first_bytes_hex"`
			ReplyDecoded     struct {
				PeerDataHex string `json:"peer_data_hex"`
			} `json:"reply_decoded"`
		} `json:"v0_35"`
		V0101 struct {
			ALPN   string `json:"alpn"`
			Frames []struct {
				Desc     string `json:"desc"`
				FrameHex string `json:"frame_hex"`
			} `json:"frames"`
		} `json:"v0_101_derived"`
	} `json:"gossip"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readOne(t *testing.T, frame []byte) []byte {
	t.Helper()
	body, err := ReadFrame(bytes.NewReader(frame), nil, DefaultMaxMessageSize)
	if err != nil {
		t.Fatalf("ReadFrame: %v", err)
	}
	return body
}

// TestVectors0101 encodes each 0.101 frame of the spec from a message built
// here and decodes the vector back to the same message.
func TestVectors0101(t *testing.T) {
	var v gossipVectors
	testutil.LoadVectors(t, "protocols.json", &v)
	frames := v.Gossip.V0101.Frames
	if len(frames) != 13 || v.Gossip.V0101.ALPN != ALPN {
		t.Fatalf("unexpected vectors: %d frames, alpn %q", len(frames), v.Gossip.V0101.ALPN)
	}
	var topic TopicID
	copy(topic[:], "go-spec-topic")
	peer := PeerID(unhex(t, "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664"))
	data := unhex(t, "0001007f000001addb03")
	id := NewMessageID([]byte("hi"))
	want := []Message{
		{},
		{Type: MsgJoin},
		{Type: MsgJoin, Data: data},
		{Type: MsgForwardJoin, Peer: PeerInfo{ID: peer}, TTL: 6},
		{Type: MsgShuffle, Origin: peer, Nodes: []PeerInfo{{ID: peer}}, TTL: 6},
		{Type: MsgShuffleReply, Nodes: []PeerInfo{}},
		{Type: MsgNeighbor, Priority: Low},
		{Type: MsgDisconnect, Alive: true},
		{Type: MsgGossip, ID: id, Content: []byte("hi"), Scope: Scope{Round: 3}},
		{Type: MsgGossip, ID: id, Content: []byte("hi"), Scope: Scope{Neighbors: true}},
		{Type: MsgPrune},
		{Type: MsgGraft, HasID: true, ID: id, Round: 2},
		{Type: MsgIHave, IHaves: []IHave{{ID: id, Round: 1}}},
	}
	for i, f := range frames {
		t.Run(f.Desc, func(t *testing.T) {
			raw := unhex(t, f.FrameHex)
			body := readOne(t, raw)
			if i == 0 {
				got := AppendFrame(nil, AppendStreamHeader(nil, topic))
				if !bytes.Equal(got, raw) {
					t.Fatalf("header frame %x, want %x", got, raw)
				}
				tp, err := ParseStreamHeader(body)
				if err != nil || tp != topic {
					t.Fatalf("ParseStreamHeader = %x, %v", tp, err)
				}
				return
			}
			enc := AppendFrame(nil, AppendMessage(nil, &want[i]))
			if !bytes.Equal(enc, raw) {
				t.Fatalf("encoded %x\nwant    %x", enc, raw)
			}
			m, err := DecodeMessage(body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, want[i]) {
				t.Fatalf("decoded %+v\nwant    %+v", m, want[i])
			}
			if MessageLen(&m) != len(body) {
				t.Fatalf("MessageLen %d, body %d", MessageLen(&m), len(body))
			}
		})
	}
}

// TestVectors035 decodes the bodies exchanged with a real Rust 0.35 node
// (topic first, then the same TopicMessage encoding).
func TestVectors035(t *testing.T) {
	var v gossipVectors
	testutil.LoadVectors(t, "protocols.json", &v)
	g := v.Gossip.V035
	topic := TopicID(unhex(t, g.TopicHex))
	split := func(frame string) Message {
		t.Helper()
		body := readOne(t, unhex(t, frame))
		tp, m, err := DecodeProtoMessage(body)
		if err != nil {
			t.Fatal(err)
		}
		if tp != topic {
			t.Fatalf("topic %x", tp)
		}
		enc := AppendProtoMessage(nil, topic, &m)
		if !bytes.Equal(enc, body) {
			t.Fatalf("re-encoded %x\nwant        %x", enc, body)
		}
		if ProtoMessageLen(&m) != len(body) {
			t.Fatalf("ProtoMessageLen %d, body %d", ProtoMessageLen(&m), len(body))
		}
		return m
	}
	if m := split(g.SentJoinFrameHex); m.Type != MsgJoin || !bytes.Equal(m.Data, unhex(t, g.OurPeerDataHex)) {
		t.Fatalf("join: %+v", m)
	}
	if m := split(g.ReplyFrameHex); m.Type != MsgNeighbor || m.Priority != High || !bytes.Equal(m.Data, unhex(t, g.ReplyDecoded.PeerDataHex)) {
		t.Fatalf("reply: %+v", m)
	}
	m := split(g.SentGossipFrame)
	if m.Type != MsgGossip || m.ID != MessageID(unhex(t, g.MessageIDHex)) || NewMessageID(m.Content) != m.ID || m.Scope != (Scope{}) {
		t.Fatalf("gossip: %+v", m)
	}
	if m := split(g.SentSpoofedFrame); NewMessageID(m.Content) == m.ID {
		t.Fatal("spoofed id matches its content")
	}
	if m := split(g.SentDisconnect); m.Type != MsgDisconnect || m.Alive || m.Respond {
		t.Fatalf("disconnect: %+v", m)
	}
	// The Rust joiner's first bytes: a 0.35 frame on topic 05..05.
	if m := split2(t, g.RustJoinerFirst); m.Type != MsgJoin || len(m.Data) == 0 {
		t.Fatalf("rust joiner: %+v", m)
	}
}

func split2(t *testing.T, frame string) Message {
	body := readOne(t, unhex(t, frame))
	_, m, err := DecodeProtoMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDecodeProtoMessageErrors(t *testing.T) {
	var topic TopicID
	good := AppendProtoMessage(nil, topic, &Message{Type: MsgPrune})
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "truncated in its topic"},
		{"topic only", make([]byte, 32), "layer at offset 32"},
		{"short topic", make([]byte, 31), "truncated in its topic"},
		{"bad kind", append(make([]byte, 32), 0, 9), "unknown message kind 9 in layer 0 at offset 33"},
		{"trailing", append(bytes.Clone(good), 0), "trailing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := DecodeProtoMessage(c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// FuzzDecodeProtoMessage: the 0.35 frame body parser never panics, round
// trips, and allocates in proportion to its input.
func FuzzDecodeProtoMessage(f *testing.F) {
	var topic TopicID
	copy(topic[:], "fuzz")
	id := NewMessageID([]byte("hi"))
	for _, m := range []Message{
		{Type: MsgJoin, Data: []byte{1, 2}},
		{Type: MsgNeighbor, Priority: High},
		{Type: MsgDisconnect, Alive: true, Respond: true},
		{Type: MsgGossip, ID: id, Content: []byte("hi"), Scope: Scope{Round: 3}},
		{Type: MsgIHave, IHaves: []IHave{{ID: id, Round: 1}}},
	} {
		f.Add(AppendProtoMessage(nil, topic, &m))
	}
	var v gossipVectors
	testutil.LoadVectors(f, "protocols.json", &v)
	for _, h := range []string{v.Gossip.V035.SentJoinFrameHex, v.Gossip.V035.ReplyFrameHex, v.Gossip.V035.SentGossipFrame, v.Gossip.V035.SentDisconnect, v.Gossip.V035.RustJoinerFirst} {
		if b, err := hex.DecodeString(h); err == nil && len(b) > 4 {
			f.Add(b[4:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tp, m, err := DecodeProtoMessage(b)
		if err != nil {
			return
		}
		enc := AppendProtoMessage(nil, tp, &m)
		tp2, m2, err := DecodeProtoMessage(enc)
		if err != nil {
			t.Fatalf("re-decode of %x: %v", enc, err)
		}
		if tp2 != tp || !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip:\n%+v\n%+v", m, m2)
		}
		// Overlong varints parse, so the canonical encoding may be shorter.
		if len(enc) > len(b) || ProtoMessageLen(&m) != len(enc) {
			t.Fatalf("re-encoded %d bytes (ProtoMessageLen %d) from %d", len(enc), ProtoMessageLen(&m), len(b))
		}
		if len(m.Nodes) > len(b)/33 || len(m.IHaves) > len(b)/33 {
			t.Fatalf("%d nodes / %d ihaves from %d bytes", len(m.Nodes), len(m.IHaves), len(b))
		}
	})
}

func TestParseErrors(t *testing.T) {
	id := NewMessageID([]byte("x"))
	good := AppendMessage(nil, &Message{Type: MsgGossip, ID: id, Content: []byte("x")})
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "layer"},
		{"bad layer", []byte{2, 0}, "layer 2"},
		{"bad kind", []byte{0, 6}, "unknown message kind 6"},
		{"bad gossip kind", []byte{1, 4}, "unknown message kind 4"},
		{"truncated gossip", good[:len(good)-2], "truncated"},
		{"bad priority", []byte{0, 4, 2, 0}, "priority 2"},
		{"bad option", []byte{0, 0, 7}, "option tag 7"},
		{"bad bool", []byte{0, 5, 2, 0}, "bool byte 2"},
		{"bad scope", append(good[:len(good)-2:len(good)-2], 5), "delivery scope 5"},
		{"huge ihave count", []byte{1, 3, 0xff, 0xff, 0xff, 0xff, 0x0f}, "cannot fit"},
		{"ttl over u16", append(append([]byte{0, 1}, make([]byte, 33)...), 0x80, 0x80, 0x04), "exceeds u16"},
		{"trailing", append(bytes.Clone(good), 0), "trailing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeMessage(c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestReadFrameLimits(t *testing.T) {
	big := AppendFrame(nil, make([]byte, 5000))
	if _, err := ReadFrame(bytes.NewReader(big), nil, 4096); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader(nil), nil, 4096); err != io.EOF {
		t.Fatalf("empty: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 0}), nil, 4096); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short prefix: %v", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0, 0, 0, 5, 1}), nil, 4096); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short body: %v", err)
	}
}

func TestMaxContentLen(t *testing.T) {
	for _, max := range []int{512, 4096, 65536} {
		n := MaxContentLen(max)
		content := make([]byte, n)
		m := Message{Type: MsgGossip, Content: content, Scope: Scope{Round: 0xffff}}
		if l := MessageLen(&m); l >= max {
			t.Fatalf("max %d: content %d gives body %d", max, n, l)
		}
		m.Content = make([]byte, n+1)
		if l := MessageLen(&m); l < max-3 {
			t.Fatalf("max %d: content %d+1 gives body %d, limit is not tight", max, n, l)
		}
	}
	for _, max := range []int{512, 4096} {
		m := Message{Type: MsgGossip, Content: make([]byte, MaxContentLen035(max)), Scope: Scope{Round: 0xffff}}
		if l := ProtoMessageLen(&m); l >= max {
			t.Fatalf("0.35, max %d: body %d", max, l)
		}
	}
	if IHavesPerMessage(DefaultMaxMessageSize) != 116 {
		t.Fatalf("IHavesPerMessage = %d, want 116", IHavesPerMessage(DefaultMaxMessageSize))
	}
}

func FuzzParseMessage(f *testing.F) {
	id := NewMessageID([]byte("hi"))
	var p PeerID
	p[0] = 7
	for _, m := range []Message{
		{Type: MsgJoin, Data: []byte{1, 2}},
		{Type: MsgForwardJoin, Peer: PeerInfo{ID: p, Data: []byte{}}, TTL: 300},
		{Type: MsgShuffle, Origin: p, Nodes: []PeerInfo{{ID: p}, {ID: p, Data: []byte{9}}}, TTL: 6},
		{Type: MsgShuffleReply},
		{Type: MsgNeighbor, Priority: Low, Data: []byte("x")},
		{Type: MsgDisconnect, Alive: true, Respond: true},
		{Type: MsgGossip, ID: id, Content: []byte("hi"), Scope: Scope{Round: 200}},
		{Type: MsgGossip, ID: id, Content: []byte{}, Scope: Scope{Neighbors: true}},
		{Type: MsgPrune},
		{Type: MsgGraft, Round: 9},
		{Type: MsgGraft, HasID: true, ID: id, Round: 9},
		{Type: MsgIHave, IHaves: []IHave{{ID: id, Round: 1}, {ID: id}}},
	} {
		f.Add(AppendMessage(nil, &m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		enc := AppendMessage(nil, &m)
		m2, err := DecodeMessage(enc)
		if err != nil {
			t.Fatalf("re-decode of %x: %v", enc, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip:\n%+v\n%+v", m, m2)
		}
		if len(m.Nodes) > len(b)/33 || len(m.IHaves) > len(b)/33 {
			t.Fatalf("%d nodes / %d ihaves from %d bytes", len(m.Nodes), len(m.IHaves), len(b))
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Add(AppendFrame(nil, []byte{1, 1}), 4096)
	f.Add([]byte{0, 0, 0x10, 1}, 4096)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, 512)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 0 || max > 1<<20 {
			return
		}
		r := bytes.NewReader(b)
		for {
			body, err := ReadFrame(r, nil, max)
			if err != nil {
				return
			}
			if len(body) > max {
				t.Fatalf("body %d > max %d", len(body), max)
			}
		}
	})
}
