package recovery

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newRec(t testing.TB, o *Options) *Recovery {
	t.Helper()
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func send(t testing.TB, r *Recovery, now time.Time, id SpaceID, pn uint64) {
	t.Helper()
	if err := r.OnSent(now, id, SentPacket{Number: pn, Size: 1200, Token: pn, AckEliciting: true, InFlight: true}); err != nil {
		t.Fatal(err)
	}
}

func ack(t testing.TB, r *Recovery, now time.Time, id SpaceID, ranges ...AckRange) AckResult {
	t.Helper()
	var res AckResult
	if err := r.OnAck(now, id, &Ack{Ranges: ranges}, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func numbers(ps []SentPacket) []uint64 {
	var n []uint64
	for _, p := range ps {
		n = append(n, p.Number)
	}
	return n
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPacketThreshold(t *testing.T) {
	tests := []struct {
		name      string
		ranges    []AckRange
		acked     []uint64
		lost      []uint64
		inFlight  int
		remaining int
	}{
		{"in order", []AckRange{{0, 9}}, []uint64{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, nil, 0, 0},
		{"gap of three loses", []AckRange{{3, 3}}, []uint64{3}, []uint64{0}, 8 * 1200, 8},
		{"gap of two does not", []AckRange{{2, 2}}, []uint64{2}, nil, 9 * 1200, 9},
		{"ranges", []AckRange{{8, 9}, {4, 5}}, []uint64{9, 8, 5, 4}, []uint64{0, 1, 2, 3, 6}, 1 * 1200, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRec(t, &Options{PathOnly: true})
			for pn := range uint64(10) {
				send(t, r, t0, Application, pn)
			}
			res := ack(t, r, t0.Add(10*ms), Application, tt.ranges...)
			if !equal(numbers(res.Acked), tt.acked) || !equal(numbers(res.Lost), tt.lost) {
				t.Errorf("acked %v lost %v, want %v %v", numbers(res.Acked), numbers(res.Lost), tt.acked, tt.lost)
			}
			if r.BytesInFlight() != tt.inFlight || r.Outstanding(Application) != tt.remaining {
				t.Errorf("in flight %d outstanding %d, want %d %d", r.BytesInFlight(), r.Outstanding(Application), tt.inFlight, tt.remaining)
			}
			if r.Tracked(Application) < r.Outstanding(Application) {
				t.Error("tracked below outstanding")
			}
		})
	}
}

func TestTimeThresholdAndLossTimer(t *testing.T) {
	r := newRec(t, &Options{PathOnly: true})
	send(t, r, t0, Application, 0)
	send(t, r, t0.Add(10*ms), Application, 1)
	// ACK of 1 after 100ms: RTT 90ms, loss delay 9/8*100 (max latest, smoothed).
	now := t0.Add(100 * ms)
	res := ack(t, r, now, Application, AckRange{1, 1})
	if len(res.Lost) != 0 {
		t.Fatalf("lost %v too early", numbers(res.Lost))
	}
	lossDelay := r.RTT().LossDelay()
	want := t0.Add(lossDelay)
	if got := r.LossDetectionTimeout(); !got.Equal(want) {
		t.Fatalf("loss timer %v, want %v", got.Sub(t0), want.Sub(t0))
	}
	res.Reset()
	if to := r.HandleTimeout(want.Add(-time.Nanosecond), &res); to.Probes != 0 || len(res.Lost) != 0 {
		t.Fatal("timeout fired early")
	}
	if to := r.HandleTimeout(want, &res); to.Probes != 0 || !equal(numbers(res.Lost), []uint64{0}) {
		t.Fatalf("timeout %+v lost %v", to, numbers(res.Lost))
	}
	if !r.LossDetectionTimeout().IsZero() {
		t.Error("timer still armed with nothing in flight")
	}
	if s := r.Stats(); s.PacketsLost != 1 || s.CongestionEvents != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestPTOBackoffAndReset(t *testing.T) {
	r := newRec(t, &Options{PathOnly: true, MaxAckDelay: 25 * ms})
	send(t, r, t0, Application, 0)
	ack(t, r, t0.Add(100*ms), Application, AckRange{0, 0}) // srtt 100, var 50
	now := t0.Add(100 * ms)
	send(t, r, now, Application, 1)
	base := 100*ms + 200*ms + 25*ms
	for i := range 4 {
		want := now.Add(base << i)
		got := r.LossDetectionTimeout()
		if !got.Equal(want) {
			t.Fatalf("PTO %d at %v, want %v", i, got.Sub(now), want.Sub(now))
		}
		var res AckResult
		to := r.HandleTimeout(got, &res)
		if to.Probes != 2 || to.ProbeSpace != Application || r.PTOCount() != i+1 {
			t.Fatalf("timeout %+v count %d", to, r.PTOCount())
		}
	}
	// Probes count from the last ack-eliciting send, backoff kept.
	later := now.Add(5 * time.Second)
	send(t, r, later, Application, 2)
	if got, want := r.LossDetectionTimeout(), later.Add(base<<4); !got.Equal(want) {
		t.Fatalf("PTO after probe %v, want %v", got.Sub(later), want.Sub(later))
	}
	// An ACK resets the backoff.
	ack(t, r, later.Add(100*ms), Application, AckRange{2, 2})
	if r.PTOCount() != 0 {
		t.Fatalf("pto count %d after ACK", r.PTOCount())
	}
	if r.Stats().PTOs != 4 {
		t.Errorf("PTOs %d", r.Stats().PTOs)
	}
}

func TestPTOSpaces(t *testing.T) {
	t.Run("application ignored before confirmation", func(t *testing.T) {
		r := newRec(t, &Options{Server: true})
		send(t, r, t0, Application, 0)
		if !r.LossDetectionTimeout().IsZero() {
			t.Fatal("application PTO armed before handshake confirmation")
		}
		send(t, r, t0.Add(ms), Handshake, 0)
		var res AckResult
		to := r.HandleTimeout(t0.Add(time.Hour), &res)
		if to.ProbeSpace != Handshake || to.Probes != 2 {
			t.Fatalf("timeout %+v", to)
		}
		r.ConfirmHandshake()
		r.Discard(Handshake, &res)
		if got, want := r.LossDetectionTimeout(), t0.Add(3*DefaultInitialRTT+DefaultMaxAckDelay); !got.Equal(want) {
			t.Fatalf("PTO %v, want %v", got.Sub(t0), want.Sub(t0))
		}
	})
	t.Run("earliest space wins", func(t *testing.T) {
		r := newRec(t, &Options{Server: true})
		send(t, r, t0.Add(ms), Initial, 0)
		send(t, r, t0, Handshake, 0)
		var res AckResult
		if to := r.HandleTimeout(t0.Add(time.Hour), &res); to.ProbeSpace != Handshake {
			t.Fatalf("probe space %v", to.ProbeSpace)
		}
	})
	t.Run("client anti-deadlock", func(t *testing.T) {
		r := newRec(t, nil) // client
		send(t, r, t0, Initial, 0)
		ack(t, r, t0.Add(50*ms), Initial, AckRange{0, 0})
		// Nothing in flight, but the server may be blocked by its
		// amplification limit: the client keeps a PTO.
		got := r.LossDetectionTimeout()
		if got.IsZero() {
			t.Fatal("client disarmed the PTO before address validation")
		}
		var res AckResult
		if to := r.HandleTimeout(got, &res); to.Probes != 1 || to.ProbeSpace != Initial {
			t.Fatalf("timeout %+v", to)
		}
		r.Discard(Initial, &res)
		if to := r.HandleTimeout(r.LossDetectionTimeout(), &res); to.Probes != 1 || to.ProbeSpace != Handshake {
			t.Fatalf("timeout %+v", to)
		}
		send(t, r, t0.Add(time.Second), Handshake, 0)
		ack(t, r, t0.Add(time.Second+50*ms), Handshake, AckRange{0, 0})
		if !r.LossDetectionTimeout().IsZero() {
			t.Fatal("PTO armed after a Handshake ACK validated us")
		}
	})
	t.Run("server blocked by amplification", func(t *testing.T) {
		r := newRec(t, &Options{Server: true})
		send(t, r, t0, Initial, 0)
		r.SetAmplificationBlocked(true)
		if !r.LossDetectionTimeout().IsZero() {
			t.Fatal("PTO armed while amplification blocked")
		}
	})
}

func TestPersistentCongestion(t *testing.T) {
	for _, alg := range []Algorithm{NewReno, CUBIC} {
		t.Run(alg.String(), func(t *testing.T) {
			r := newRec(t, &Options{PathOnly: true, Algorithm: alg, MaxAckDelay: 25 * ms})
			send(t, r, t0, Application, 0)
			ack(t, r, t0.Add(100*ms), Application, AckRange{0, 0})
			// pc duration: (100 + 200 + 25) * 3 = 975ms
			base := t0.Add(100 * ms)
			for i := range uint64(10) {
				send(t, r, base.Add(time.Duration(i)*110*ms), Application, 1+i)
			}
			send(t, r, base.Add(2*time.Second), Application, 11)
			res := ack(t, r, base.Add(2*time.Second+100*ms), Application, AckRange{11, 11})
			if len(res.Lost) != 10 {
				t.Fatalf("lost %v", numbers(res.Lost))
			}
			// The window collapsed to 2 datagrams, then the ACK of 11 (sent
			// after) grew it by one in slow start.
			if r.Window() != 3*1200 || r.Stats().PersistentCongest != 1 {
				t.Errorf("window %d, persistent %d", r.Window(), r.Stats().PersistentCongest)
			}
		})
	}
	t.Run("acked packet between breaks it", func(t *testing.T) {
		r := newRec(t, &Options{PathOnly: true, Algorithm: NewReno, MaxAckDelay: 25 * ms})
		send(t, r, t0, Application, 0)
		ack(t, r, t0.Add(100*ms), Application, AckRange{0, 0})
		base := t0.Add(100 * ms)
		for i := range uint64(10) {
			send(t, r, base.Add(time.Duration(i)*110*ms), Application, 1+i)
		}
		send(t, r, base.Add(2*time.Second), Application, 11)
		res := ack(t, r, base.Add(2*time.Second+100*ms), Application, AckRange{11, 11}, AckRange{5, 5})
		if len(res.Lost) != 9 || r.Stats().PersistentCongest != 0 {
			t.Fatalf("lost %v persistent %d", numbers(res.Lost), r.Stats().PersistentCongest)
		}
		if r.Window() != 12000/2 {
			t.Errorf("window %d, want one halving", r.Window())
		}
	})
	t.Run("no RTT sample, no persistent congestion", func(t *testing.T) {
		r := newRec(t, &Options{PathOnly: true, Algorithm: NewReno})
		for i := range uint64(10) {
			send(t, r, t0.Add(time.Duration(i)*time.Second), Application, i)
		}
		// The sample comes from this ACK itself; the lost were sent before it.
		ack(t, r, t0.Add(11*time.Second), Application, AckRange{9, 9})
		if r.Stats().PersistentCongest != 0 {
			t.Fatal("persistent congestion without a prior RTT sample")
		}
	})
}

func TestNoTimerBeforeAnySend(t *testing.T) {
	r := newRec(t, nil)
	if !r.LossDetectionTimeout().IsZero() {
		t.Fatalf("timer %v before anything was sent", r.LossDetectionTimeout())
	}
}

func TestDiscard(t *testing.T) {
	r := newRec(t, &Options{Server: true})
	send(t, r, t0, Initial, 0)
	send(t, r, t0, Initial, 1)
	send(t, r, t0, Handshake, 0)
	w := r.Window()
	var res AckResult
	r.Discard(Initial, &res)
	if !equal(numbers(res.Lost), []uint64{0, 1}) || r.BytesInFlight() != 1200 || r.Window() != w {
		t.Fatalf("lost %v in flight %d window %d", numbers(res.Lost), r.BytesInFlight(), r.Window())
	}
	if err := r.OnSent(t0, Initial, SentPacket{Number: 2}); !errors.Is(err, ErrSpaceDiscarded) {
		t.Errorf("send in discarded space: %v", err)
	}
	if err := r.OnAck(t0, Initial, &Ack{Ranges: []AckRange{{0, 1}}}, &res); err != nil {
		t.Errorf("late ACK: %v", err)
	}
}

func TestAckErrors(t *testing.T) {
	r := newRec(t, &Options{PathOnly: true, MaxTracked: 4})
	for pn := range uint64(4) {
		send(t, r, t0, Application, pn*2)
	}
	if err := r.OnSent(t0, Application, SentPacket{Number: 100}); !errors.Is(err, ErrSpaceFull) {
		t.Errorf("fifth packet: %v", err)
	}
	if err := r.OnSent(t0, Application, SentPacket{Number: 6}); !errors.Is(err, ErrPacketNumberOld) {
		t.Errorf("old number: %v", err)
	}
	var res AckResult
	for name, rs := range map[string][]AckRange{
		"empty":      nil,
		"inverted":   {{5, 4}},
		"ascending":  {{0, 0}, {2, 2}},
		"adjacent":   {{3, 4}, {1, 2}},
		"overlap":    {{2, 4}, {1, 2}},
		"unsent":     {{7, 7}},
		"wraparound": {{0, ^uint64(0)}},
		"max twice":  {{^uint64(0), ^uint64(0)}, {^uint64(0), ^uint64(0)}},
	} {
		if err := r.OnAck(t0, Application, &Ack{Ranges: rs}, &res); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := r.OnAck(t0, 7, &Ack{Ranges: []AckRange{{0, 0}}}, &res); err == nil {
		t.Error("bad space: no error")
	}
	// Skipped numbers are ignored.
	res = ack(t, r, t0.Add(ms), Application, AckRange{1, 1})
	if len(res.Acked) != 0 {
		t.Errorf("acked %v", numbers(res.Acked))
	}
}

func TestSpuriousLoss(t *testing.T) {
	r := newRec(t, &Options{PathOnly: true})
	for pn := range uint64(5) {
		send(t, r, t0, Application, pn)
	}
	res := ack(t, r, t0.Add(10*ms), Application, AckRange{4, 4})
	if !equal(numbers(res.Lost), []uint64{0, 1}) {
		t.Fatalf("lost %v", numbers(res.Lost))
	}
	res = ack(t, r, t0.Add(11*ms), Application, AckRange{4, 4}, AckRange{0, 2})
	if !equal(numbers(res.Acked), []uint64{2}) || r.Stats().SpuriousLosses != 2 {
		t.Fatalf("acked %v spurious %d", numbers(res.Acked), r.Stats().SpuriousLosses)
	}
}

func sendECT(t testing.TB, r *Recovery, now time.Time, pn uint64) {
	t.Helper()
	if !r.MarkECT() {
		t.Fatalf("packet %d: not marking in state %v", pn, r.ECN().State())
	}
	if err := r.OnSent(now, Application, SentPacket{Number: pn, Size: 1200, AckEliciting: true, InFlight: true, ECT: true}); err != nil {
		t.Fatal(err)
	}
}

func TestECNCE(t *testing.T) {
	r := newRec(t, &Options{PathOnly: true, Algorithm: NewReno})
	for pn := range uint64(4) {
		sendECT(t, r, t0, pn)
	}
	var res AckResult
	w := r.Window()
	if err := r.OnAck(t0.Add(10*ms), Application, &Ack{Ranges: []AckRange{{0, 1}}, ECN: true, ECT0: 1, CE: 1}, &res); err != nil {
		t.Fatal(err)
	}
	if r.Window() != w/2 || r.ECN().State() != ECNCapable {
		t.Fatalf("window %d after CE, want %d; ECN %v %s", r.Window(), w/2, r.ECN().State(), r.ECN().FailReason())
	}
	// Higher CE in the same recovery period: no second cut.
	if err := r.OnAck(t0.Add(11*ms), Application, &Ack{Ranges: []AckRange{{2, 3}}, ECN: true, ECT0: 2, CE: 2}, &res); err != nil {
		t.Fatal(err)
	}
	if r.Window() != w/2 || r.Stats().ECNCE != 2 || r.Stats().CongestionEvents != 1 {
		t.Fatalf("window %d stats %+v", r.Window(), r.Stats())
	}
}

func TestECNValidation(t *testing.T) {
	type step struct {
		ranges []AckRange
		ack    Ack // ranges filled in
	}
	tests := []struct {
		name  string
		steps []step
		want  ECNState
		cut   bool // the window was reduced by CE
	}{
		{"counts match", []step{{[]AckRange{{0, 4}}, Ack{ECN: true, ECT0: 5}}}, ECNCapable, false},
		{"CE counts too", []step{{[]AckRange{{0, 4}}, Ack{ECN: true, ECT0: 4, CE: 1}}}, ECNCapable, true},
		{"counts missing", []step{{[]AckRange{{0, 4}}, Ack{}}}, ECNFailed, false},
		{"counts too low (bleached)", []step{{[]AckRange{{0, 4}}, Ack{ECN: true, ECT0: 2}}}, ECNFailed, false},
		{"counts above sent", []step{{[]AckRange{{0, 4}}, Ack{ECN: true, ECT0: 50}}}, ECNFailed, false},
		{"ECT(1) never sent", []step{{[]AckRange{{0, 4}}, Ack{ECN: true, ECT0: 5, ECT1: 1}}}, ECNFailed, false},
		{"counts decrease", []step{
			{[]AckRange{{0, 4}}, Ack{ECN: true, ECT0: 5}},
			{[]AckRange{{5, 6}}, Ack{ECN: true, ECT0: 4}},
		}, ECNFailed, false},
		{"reordered ACK does not fail", []step{
			{[]AckRange{{2, 2}}, Ack{ECN: true, ECT0: 1}},
			// Newly acknowledges 0 without raising the largest or the count.
			{[]AckRange{{2, 2}, {0, 0}}, Ack{ECN: true, ECT0: 1}},
			{[]AckRange{{2, 3}, {0, 0}}, Ack{ECN: true, ECT0: 3}},
		}, ECNCapable, false},
		{"CE ignored once failed", []step{
			{[]AckRange{{0, 4}}, Ack{}},
			{[]AckRange{{5, 6}}, Ack{ECN: true, ECT0: 6, CE: 1}},
		}, ECNFailed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRec(t, &Options{PathOnly: true, Algorithm: NewReno})
			for pn := range uint64(ECNTestPackets) {
				sendECT(t, r, t0, pn)
			}
			if r.MarkECT() || r.ECN().State() != ECNUnknown {
				t.Fatalf("still marking after %d test packets", ECNTestPackets)
			}
			w := r.Window()
			var res AckResult
			for i, st := range tt.steps {
				a := st.ack
				a.Ranges = st.ranges
				if err := r.OnAck(t0.Add(time.Duration(10+i)*ms), Application, &a, &res); err != nil {
					t.Fatal(err)
				}
			}
			if r.ECN().State() != tt.want || (r.Window() < w) != tt.cut {
				t.Fatalf("state %v (%s), window %d -> %d", r.ECN().State(), r.ECN().FailReason(), w, r.Window())
			}
			if r.MarkECT() != (tt.want == ECNCapable) {
				t.Fatalf("marking %v in state %v", r.MarkECT(), tt.want)
			}
		})
	}
	t.Run("all test packets lost", func(t *testing.T) {
		r := newRec(t, &Options{PathOnly: true})
		for pn := range uint64(ECNTestPackets) {
			sendECT(t, r, t0, pn)
		}
		for pn := uint64(ECNTestPackets); pn < 20; pn++ {
			send(t, r, t0, Application, pn)
		}
		var res AckResult
		if err := r.OnAck(t0.Add(time.Second), Application, &Ack{Ranges: []AckRange{{15, 19}}, ECN: true}, &res); err != nil {
			t.Fatal(err)
		}
		if r.ECN().State() != ECNFailed {
			t.Fatalf("state %v", r.ECN().State())
		}
	})
}

func TestNotCongestionLoss(t *testing.T) {
	r := newRec(t, &Options{PathOnly: true})
	r.OnSent(t0, Application, SentPacket{Number: 0, Size: 1500, AckEliciting: true, InFlight: true, NotCongestion: true})
	for pn := uint64(1); pn < 5; pn++ {
		send(t, r, t0, Application, pn)
	}
	w := r.Window()
	res := ack(t, r, t0.Add(10*ms), Application, AckRange{3, 3})
	if !equal(numbers(res.Lost), []uint64{0}) || r.Window() < w || r.Stats().CongestionEvents != 0 {
		t.Fatalf("lost %v window %d -> %d", numbers(res.Lost), w, r.Window())
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{MaxDatagramSize: 1000}, {MaxDatagramSize: 70000}, {InitialRTT: -1}, {Algorithm: 9}} {
		if _, err := New(&o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	r := newRec(t, &Options{MaxDatagramSize: 1452})
	if r.Window() != 14520 {
		t.Errorf("initial window %d at 1452, want 14520", r.Window())
	}
	r = newRec(t, &Options{MaxDatagramSize: 1500})
	if r.Window() != 14720 {
		t.Errorf("initial window %d at 1500, want 14720", r.Window())
	}
	r = newRec(t, nil)
	if r.Window() != 12000 {
		t.Errorf("initial window %d at 1200, want 12000", r.Window())
	}
	r.SetMaxDatagramSize(1500)
	if r.Window() != 14720 || r.MaxDatagramSize() != 1500 {
		t.Errorf("window %d after raising the datagram size", r.Window())
	}
}

func TestSpuriousUndo(t *testing.T) {
	tests := []struct {
		name   string
		late   []AckRange // the ACK revealing the reordering
		undone bool
	}{
		{"all losses spurious", []AckRange{{0, 9}}, true},
		{"one loss real", []AckRange{{3, 9}, {0, 1}}, false},
	}
	for _, alg := range []Algorithm{NewReno, CUBIC} {
		for _, tt := range tests {
			t.Run(alg.String()+"/"+tt.name, func(t *testing.T) {
				r := newRec(t, &Options{PathOnly: true, Algorithm: alg})
				for pn := range uint64(10) {
					send(t, r, t0, Application, pn)
				}
				w := r.Window()
				res := ack(t, r, t0.Add(50*ms), Application, AckRange{3, 9})
				if !equal(numbers(res.Lost), []uint64{0, 1, 2}) || r.Window() >= w {
					t.Fatalf("lost %v, window %d -> %d", numbers(res.Lost), w, r.Window())
				}
				ack(t, r, t0.Add(51*ms), Application, tt.late...)
				if undone := r.Window() >= w; undone != tt.undone || (r.Stats().CongestionUndone == 1) != tt.undone {
					t.Fatalf("window %d -> %d, undone %d", w, r.Window(), r.Stats().CongestionUndone)
				}
				// After an undo, a real loss reduces again.
				for pn := uint64(10); pn < 20; pn++ {
					send(t, r, t0.Add(60*ms), Application, pn)
				}
				before := r.Window()
				ack(t, r, t0.Add(110*ms), Application, AckRange{14, 19})
				if r.Window() >= before {
					t.Fatalf("no reduction after the undo: %d -> %d", before, r.Window())
				}
			})
		}
	}
	t.Run("CE with the late ACK still reduces", func(t *testing.T) {
		r := newRec(t, &Options{PathOnly: true, Algorithm: NewReno})
		for pn := range uint64(10) {
			sendECT(t, r, t0, pn)
		}
		var res AckResult
		if err := r.OnAck(t0.Add(50*ms), Application, &Ack{Ranges: []AckRange{{3, 9}}, ECN: true, ECT0: 7}, &res); err != nil {
			t.Fatal(err)
		}
		r.OnSent(t0.Add(50*ms), Application, SentPacket{Number: 10, Size: 1200, AckEliciting: true, InFlight: true})
		if err := r.OnAck(t0.Add(51*ms), Application, &Ack{Ranges: []AckRange{{0, 10}}, ECN: true, ECT0: 9, CE: 1}, &res); err != nil {
			t.Fatal(err)
		}
		if r.Window() >= 12000 || r.Stats().CongestionUndone != 1 || r.Stats().ECNCE != 1 {
			t.Fatalf("window %d, stats %+v: CE in the ACK that undid the loss reduction did not reduce", r.Window(), r.Stats())
		}
	})
}

func TestShouldElicitAck(t *testing.T) {
	r := newRec(t, &Options{PathOnly: true})
	for pn := range uint64(MaxNonEliciting) {
		if r.ShouldElicitAck(Application) {
			t.Fatalf("PING asked after %d ACK-only packets", pn)
		}
		r.OnSent(t0, Application, SentPacket{Number: pn, Size: 50})
	}
	if !r.ShouldElicitAck(Application) || r.ShouldElicitAck(Handshake) || r.ShouldElicitAck(9) {
		t.Fatal("no PING asked")
	}
	send(t, r, t0, Application, MaxNonEliciting)
	if r.ShouldElicitAck(Application) {
		t.Fatal("PING still asked after an ack-eliciting packet")
	}
	// Once the PING is acknowledged, the ACK-only packets before it are
	// settled (declared lost, no congestion signal) and the ring drains.
	w := r.Window()
	res := ack(t, r, t0.Add(10*ms), Application, AckRange{MaxNonEliciting, MaxNonEliciting})
	if r.Outstanding(Application) != 2 || r.Window() < w || len(res.Lost) != MaxNonEliciting-2 {
		t.Fatalf("outstanding %d, lost %d, window %d -> %d", r.Outstanding(Application), len(res.Lost), w, r.Window())
	}
	// The last two go by the time threshold.
	res.Reset()
	r.HandleTimeout(r.LossDetectionTimeout(), &res)
	if r.Outstanding(Application) != 0 || len(res.Lost) != 2 || r.Stats().CongestionEvents != 0 {
		t.Fatalf("outstanding %d, lost %d, congestion events %d", r.Outstanding(Application), len(res.Lost), r.Stats().CongestionEvents)
	}
}

func TestResetCongestion(t *testing.T) {
	for _, alg := range []Algorithm{NewReno, CUBIC} {
		r := newRec(t, &Options{PathOnly: true, Algorithm: alg, InitialRTT: 100 * ms})
		for pn := range uint64(12) {
			send(t, r, t0, Application, pn)
		}
		ack(t, r, t0.Add(30*ms), Application, AckRange{3, 9}) // 0..2 lost: window cut; RTT 30ms; 10, 11 in flight
		if r.Window() >= 12000 || r.RTT().Smoothed() != 30*ms {
			t.Fatalf("%v: before reset window %d srtt %v", alg, r.Window(), r.RTT().Smoothed())
		}
		r.ResetCongestion()
		if r.Window() != 12000 || r.RTT().Smoothed() != 100*ms || r.RTT().HasSample() || r.Outstanding(Application) != 2 || r.BytesInFlight() != 2400 {
			t.Fatalf("%v: after reset window %d srtt %v outstanding %d in flight %d", alg, r.Window(), r.RTT().Smoothed(), r.Outstanding(Application), r.BytesInFlight())
		}
		if (alg == NewReno) != (fmt.Sprintf("%T", r.Controller()) == "*recovery.NewRenoController") {
			t.Fatalf("%v: controller %T", alg, r.Controller())
		}
	}
}

// TestAppLimited: a sender that keeps only two packets in flight (an
// interactive application) does not grow its window, however many ACKs
// arrive; one that fills the window does.
func TestAppLimited(t *testing.T) {
	for _, alg := range []Algorithm{NewReno, CUBIC} {
		for _, perRound := range []int{2, 10} {
			r := newRec(t, &Options{PathOnly: true, Algorithm: alg})
			now := t0
			var pn uint64
			for range 50 {
				first := pn
				for range perRound {
					send(t, r, now, Application, pn)
					pn++
				}
				now = now.Add(20 * ms)
				ack(t, r, now, Application, AckRange{first, pn - 1})
			}
			limited := perRound == 2
			if grew := r.Window() > 12000; grew == limited {
				t.Errorf("%v, %d per round: window %d", alg, perRound, r.Window())
			}
		}
	}
}
