package recovery

import (
	"testing"
	"time"
)

const ms = time.Millisecond

func TestRTTUpdate(t *testing.T) {
	type sample struct {
		latest, delay time.Duration
		confirmed     bool
	}
	tests := []struct {
		name                    string
		samples                 []sample
		maxAckDelay             time.Duration
		smoothed, variance, min time.Duration
	}{
		{"before any sample", nil, 25 * ms, DefaultInitialRTT, DefaultInitialRTT / 2, 0},
		{"first sample ignores ack delay", []sample{{100 * ms, 50 * ms, true}}, 25 * ms, 100 * ms, 50 * ms, 100 * ms},
		{
			"ack delay subtracted", []sample{{100 * ms, 0, true}, {120 * ms, 20 * ms, true}}, 25 * ms,
			// adjusted 100: smoothed 100, var (3*50+0)/4
			100 * ms, 150 * ms / 4, 100 * ms,
		},
		{
			"ack delay capped by max_ack_delay once confirmed", []sample{{100 * ms, 0, true}, {160 * ms, 50 * ms, true}}, 25 * ms,
			// adjusted 135: smoothed (700+135)/8, var (150+35)/4
			(700*ms + 135*ms) / 8, (150*ms + 35*ms) / 4, 100 * ms,
		},
		{
			"ack delay not capped before confirmation", []sample{{100 * ms, 0, false}, {160 * ms, 50 * ms, false}}, 25 * ms,
			(700*ms + 110*ms) / 8, (150*ms + 10*ms) / 4, 100 * ms,
		},
		{
			"never below min rtt", []sample{{100 * ms, 0, true}, {110 * ms, 20 * ms, true}}, 25 * ms,
			// 110 < 100+20: delay not subtracted
			(700*ms + 110*ms) / 8, (150*ms + 10*ms) / 4, 100 * ms,
		},
		{"min tracks smallest", []sample{{100 * ms, 0, true}, {80 * ms, 0, true}}, 25 * ms, (700*ms + 80*ms) / 8, (150*ms + 20*ms) / 4, 80 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRTT(0)
			for _, s := range tt.samples {
				r.Update(s.latest, s.delay, s.confirmed, tt.maxAckDelay)
			}
			if r.Smoothed() != tt.smoothed || r.Variance() != tt.variance || r.Min() != tt.min {
				t.Errorf("smoothed %v var %v min %v, want %v %v %v", r.Smoothed(), r.Variance(), r.Min(), tt.smoothed, tt.variance, tt.min)
			}
		})
	}
}

func TestPTOAndLossDelay(t *testing.T) {
	r := NewRTT(0)
	if got, want := r.PTO(0), DefaultInitialRTT+4*DefaultInitialRTT/2; got != want {
		t.Errorf("initial PTO %v, want %v", got, want)
	}
	r.Update(100*ms, 0, true, 25*ms)
	if got, want := r.PTO(25*ms), 100*ms+200*ms+25*ms; got != want {
		t.Errorf("PTO %v, want %v", got, want)
	}
	if got, want := r.LossDelay(), 9*100*ms/8; got != want {
		t.Errorf("loss delay %v, want %v", got, want)
	}
	// Variance term floors at the granularity.
	for range 50 {
		r.Update(100*ms, 0, true, 25*ms)
	}
	if got := r.PTO(0); got != r.Smoothed()+max(4*r.Variance(), Granularity) {
		t.Errorf("PTO %v", got)
	}
	tiny := NewRTT(0)
	tiny.Update(100*time.Microsecond, 0, true, 0)
	if tiny.LossDelay() != Granularity {
		t.Errorf("loss delay %v below granularity", tiny.LossDelay())
	}
	if backoff(time.Second, 3) != 8*time.Second || backoff(time.Second, 1000) != time.Second<<maxPTOBackoff {
		t.Error("backoff")
	}
}
