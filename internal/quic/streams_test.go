package quic

import (
	"errors"
	"testing"
	"time"
)

func testParams() streamParams {
	return streamParams{
		recvWindowBidiLocal: 1000, recvWindowBidiRemote: 1000, recvWindowUni: 1000,
		maxRecvWindow: 4000, sendBufferSize: 2000,
		peerBidiLocal: 500, peerBidiRemote: 600, peerUni: 700,
	}
}

func TestStreamsPeerOpensImplicitly(t *testing.T) {
	ss := newStreams(true, testParams(), 10, 10)
	// Client bidi stream 8 (number 2) opens 0 and 4 too.
	if _, err := ss.onStreamFrame(8, 0, []byte("hi"), false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []StreamID{0, 4, 8} {
		id, ok := ss.accept(false)
		if !ok || id != want {
			t.Fatalf("accepted %d %v, want %d", id, ok, want)
		}
	}
	if _, ok := ss.accept(false); ok {
		t.Fatal("extra stream accepted")
	}
	if got := ss.m[8].sendFlow.limit; got != 500 {
		t.Fatalf("send limit of a peer's bidi stream %d, want initial_max_stream_data_bidi_local 500", got)
	}
}

func TestStreamsStateErrors(t *testing.T) {
	ss := newStreams(false, testParams(), 2, 2) // client
	for _, c := range []struct {
		name string
		err  *TransportError
		code TransportErrorCode
	}{
		{"data on our uni stream", func() *TransportError { _, e := ss.onStreamFrame(2, 0, nil, false); return e }(), StreamStateError},
		{"data on our stream never opened", func() *TransportError { _, e := ss.onStreamFrame(4, 0, nil, false); return e }(), StreamStateError},
		{"MAX_STREAM_DATA on the peer's uni stream", ss.onMaxStreamData(3, 10), StreamStateError},
		{"stream above our limit", func() *TransportError { _, e := ss.onStreamFrame(9, 0, nil, false); return e }(), StreamLimitError},
		{"flow control", func() *TransportError { _, e := ss.onStreamFrame(1, 990, make([]byte, 11), false); return e }(), FlowControlError},
	} {
		if c.err == nil || c.err.Code != c.code {
			t.Errorf("%s: got %v, want %s", c.name, c.err, c.code)
		}
	}
}

func TestStreamsOpenLimit(t *testing.T) {
	ss := newStreams(false, testParams(), 2, 2)
	if _, err := ss.open(false); !errors.Is(err, ErrStreamLimit) {
		t.Fatalf("open with no credit: %v", err)
	}
	ss.localBidi.raise(1)
	id, err := ss.open(false)
	if err != nil || id != 0 {
		t.Fatalf("open: %d %v", id, err)
	}
	if ss.m[0].sendFlow.limit != 600 {
		t.Fatalf("send limit %d, want initial_max_stream_data_bidi_remote 600", ss.m[0].sendFlow.limit)
	}
}

func TestStreamsReadWriteFinForget(t *testing.T) {
	ss := newStreams(true, testParams(), 1, 1)
	ss.onStreamFrame(0, 0, []byte("hello"), true)
	id, _ := ss.accept(false)
	buf := make([]byte, 10)
	n, fin, err := ss.read(t0, id, buf, time.Millisecond)
	if err != nil || n != 5 || !fin || string(buf[:n]) != "hello" {
		t.Fatalf("read %q fin %v err %v", buf[:n], fin, err)
	}
	if n, err := ss.write(id, make([]byte, 3000)); err != nil || n != 2000 {
		t.Fatalf("write took %d (%v), want the 2000 byte buffer", n, err)
	}
	ss.closeSend(id)
	s := ss.m[id]
	var frames [][3]uint64
	for {
		off, n, fin, ok := s.send.next(1200, s.sendFlow.limit)
		if !ok {
			break
		}
		f := uint64(0)
		if fin {
			f = 1
		}
		frames = append(frames, [3]uint64{off, uint64(n), f})
	}
	if len(frames) != 1 || frames[0][1] != 500 {
		t.Fatalf("frames %v: flow limit 500 not applied", frames)
	}
	ss.onMaxStreamData(id, 5000)
	for {
		off, n, fin, ok := s.send.next(1200, s.sendFlow.limit)
		if !ok {
			break
		}
		s.send.onAck(off, n, fin)
	}
	s.send.onAck(0, 500, false)
	if !s.send.done() {
		t.Fatal("send not done")
	}
	s.sendState = sendDataRecvd
	ss.maybeForget(s)
	if _, ok := ss.m[id]; ok {
		t.Fatal("finished stream kept")
	}
	if ss.remoteBidi.max != 2 {
		t.Fatalf("credit not returned: max %d", ss.remoteBidi.max)
	}
	// A late frame for the forgotten stream is ignored.
	if _, err := ss.onStreamFrame(0, 0, []byte("hello"), true); err != nil {
		t.Fatal(err)
	}
	if _, ok := ss.accept(false); ok {
		t.Fatal("forgotten stream reopened")
	}
}

func TestStreamsResetAndStop(t *testing.T) {
	ss := newStreams(true, testParams(), 4, 4)
	ss.onStreamFrame(0, 0, []byte("abc"), false)
	if _, err := ss.onResetStream(0, 7, 2); err == nil || err.Code != FinalSizeError {
		t.Fatalf("reset below received data: %v", err)
	}
	grew, err := ss.onResetStream(0, 7, 10)
	if err != nil || grew != 7 {
		t.Fatalf("reset: grew %d, %v", grew, err)
	}
	var rerr *StreamResetError
	if _, _, err := ss.read(t0, 0, make([]byte, 5), 0); !errors.As(err, &rerr) || rerr.Code != 7 {
		t.Fatalf("read after reset: %v", err)
	}
	if _, err := ss.onStreamFrame(0, 8, []byte("xyz"), false); err == nil || err.Code != FinalSizeError {
		t.Fatalf("data past the final size after reset: %v", err)
	}
	if err := ss.onStopSending(0, 9); err != nil {
		t.Fatal(err)
	}
	s := ss.m[0]
	if s.sendState != sendResetSent || s.resetCode != 9 || !s.resetQueue {
		t.Fatalf("STOP_SENDING did not reset with its code: %+v", s.sendState)
	}
	if _, err := ss.write(0, []byte("x")); !errors.As(err, &rerr) || !rerr.Stop || rerr.Code != 9 {
		t.Fatalf("write after STOP_SENDING: %v", err)
	}
}
