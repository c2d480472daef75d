package recovery_test

import (
	"fmt"
	"time"

	"github.com/iroh-go/iroh/internal/quic/recovery"
)

// A sender's view of one path: send ten packets, receive an ACK that
// skips packet 2, and learn what was acknowledged and what was lost.
func ExampleRecovery() {
	rec, err := recovery.New(&recovery.Options{Algorithm: recovery.CUBIC, PathOnly: true})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	budget, _ := rec.SendBudget(now)
	fmt.Println("budget", budget)
	for pn := range uint64(10) {
		rec.OnSent(now, recovery.Application, recovery.SentPacket{
			Number: pn, Size: 1200, Token: 100 + pn, AckEliciting: true, InFlight: true,
		})
	}

	// The peer's ACK frame: ranges largest first.
	ranges := []recovery.AckRange{{Smallest: 3, Largest: 9}, {Smallest: 0, Largest: 1}}
	var res recovery.AckResult
	now = now.Add(50 * time.Millisecond)
	if err := rec.OnAck(now, recovery.Application, &recovery.Ack{Ranges: ranges}, &res); err != nil {
		panic(err)
	}
	for _, p := range res.Lost {
		fmt.Println("lost packet", p.Number, "frames", p.Token)
	}
	fmt.Println("acked", len(res.Acked), "in flight", rec.BytesInFlight())
	fmt.Println("srtt", rec.RTT().Smoothed(), "window", rec.Window())
	fmt.Println("timer armed", !rec.LossDetectionTimeout().IsZero())
	// Output:
	// budget 12000
	// lost packet 2 frames 102
	// acked 9 in flight 0
	// srtt 50ms window 8400
	// timer armed false
}
