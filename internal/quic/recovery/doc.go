// Package recovery is QUIC loss detection, congestion control and pacing
// (RFC 9002) for one path, as our QUIC core needs it: I/O-free, with time
// passed in as now, no goroutines, no timers and no clock reads.
//
// A Recovery belongs to one path. On the first path of a connection it
// tracks the Initial, Handshake and Application packet number spaces; with
// multipath (draft-ietf-quic-multipath-18) every further path gets its own
// Recovery created with Options.PathOnly, holding only that path's
// Application space, its own RTT estimate, congestion window and pacer.
//
// Parts:
//
//   - RTT: latest, min, smoothed and variance (§5), ack delay capped by the
//     peer's max_ack_delay once the handshake is confirmed; PTO (§6.2).
//   - The sent-packet tracker of each space: a ring in packet number order,
//     bounded by Options.MaxTracked, searched by binary search, so an ACK
//     costs O(ranges·log n + packets acknowledged) and allocates nothing.
//     Each SentPacket carries the core's opaque Token to find its frames.
//   - Loss detection by packet (3) and time (9/8 RTT) thresholds, the loss
//     timer, the PTO with exponential backoff and anti-deadlock probes,
//     persistent congestion, and discarding a space when its keys go.
//   - Controller: NewReno (§7) or CUBIC (RFC 9438, with its Reno-friendly
//     region and fast convergence), both leaving slow start on rising
//     delay with HyStart++ (RFC 9406), byte-based, one reduction per recovery
//     period, ECN-CE treated as loss, no growth while app-limited, a
//     minimum window of two datagrams, RFC 9002's initial window. A
//     reduction whose losses are all acknowledged later (reordering, not
//     loss) is taken back, as RFC 9438 §4.9 allows (Stats.CongestionUndone).
//   - Pacer: a token bucket at 1.25·cwnd/srtt with a burst of 10 to 64
//     datagrams (one GSO batch), asked once per batch through SendBudget.
//   - ECN validation (RFC 9000 §13.4.2) inside Recovery: MarkECT says
//     whether to mark a packet ECT(0); the ACKs' counts validate the path
//     or fail it; CE counts reduce the window only on a path not failed.
//   - PMTUD: datagram path MTU discovery (RFC 8899) from 1200 up to the
//     interface and peer limit: the largest size first, then bisection,
//     three tries per size, a raise timer, and black-hole detection that
//     falls back to the base size. Probes are PING+PADDING packets the
//     core records with SentPacket.NotCongestion, so their loss is no
//     congestion signal.
//
// Not here: deciding what to retransmit (the core's, through Token),
// generating ACKs, and metrics (the core turns Stats into its Prometheus
// counters).
//
// # Usage
//
// The core holds one AckResult per connection and reuses it:
//
//	rec, _ := recovery.New(&recovery.Options{Algorithm: recovery.CUBIC})
//	var res recovery.AckResult
//
//	// Sending a batch:
//	budget, next := rec.SendBudget(now) // next: pacer's time when budget is 0
//	for budget > 0 {
//		ect := rec.MarkECT()                           // set ECT(0) on this datagram?
//		ping := rec.ShouldElicitAck(recovery.Application) // add a PING to ACK-only packets?
//		rec.OnSent(now, recovery.Application, recovery.SentPacket{
//			Number: pn, Size: size, Token: frameRecord,
//			AckEliciting: true, InFlight: true, ECT: ect,
//		})
//		budget -= size
//	}
//
//	// An ACK frame arrived (ranges straight from the parsed frame, ECN
//	// counts if it had them):
//	res.Reset()
//	err := rec.OnAck(now, recovery.Application, &recovery.Ack{Ranges: ranges, Delay: d,
//		ECN: true, ECT0: ect0, ECT1: ect1, CE: ce}, &res)
//	// res.Acked: forget their frames; res.Lost: queue their frames again.
//
//	// Timers: wake at rec.LossDetectionTimeout() (zero: none), then
//	res.Reset()
//	to := rec.HandleTimeout(now, &res) // to.Probes packets in to.ProbeSpace
//
// # Concurrency
//
// Nothing here is safe for concurrent use: the core's connection goroutine
// owns its Recoveries.
package recovery
