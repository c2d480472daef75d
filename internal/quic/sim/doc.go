// Package sim is a deterministic simulated network for tests of our QUIC
// core and of anything else that speaks datagrams: a virtual clock, an
// event queue ordered by time then insertion, nodes at netip.AddrPort
// addresses, and links with delay, jitter, loss, duplication, reordering,
// a rate limit with a bounded tail-drop queue, an MTU, and ECN (CE marks
// above a queue threshold, or bleaching for broken paths). A Bottleneck
// is a rate limit and queue several links share, for flows competing on
// one access link.
//
// Mid-run, a node's address can be rebound (NAT rebinding: peers see a new
// source) and links cut and restored (partitions); SetNAT puts an address
// behind a NAT whose mapping expires when idle, so keepalives and
// rebinding after silence can be tested. Every random choice comes from
// one PCG source seeded by the test, so the same seed gives the same run,
// which TraceHash witnesses.
//
// # Driving sans-IO nodes: Poll, not Send
//
// A Node is a sans-IO machine (datagrams and time in; datagrams and a
// deadline out). The Sim pulls its output with Poll after every Receive
// and HandleTimeout, until Poll says there is nothing more, then re-reads
// Timeout. That matches a sans-IO QUIC core's own shape (quinn's
// poll_transmit): the core decides what to send only when asked, packs
// the freshest ACKs, and honours its pacer by returning false and a
// Timeout at the pacer's next send time. A Send callback would instead
// have the core call out mid-processing, re-entering the Sim, and would
// make the core hold a reference to its environment.
//
// # Usage
//
//	s := sim.New(&sim.Options{Seed1: 1, Seed2: 2})
//	s.AddNode(client, clientAddr)
//	s.AddNode(server, serverAddr)
//	s.LinkBoth(clientAddr, serverAddr, sim.LinkConfig{
//		Delay: 20 * time.Millisecond, Loss: 0.01, Rate: 10e6, MTU: 1500,
//	})
//	err := s.RunUntil(client.Done, s.Now().Add(time.Minute))
//	stats := s.LinkBetween(clientAddr, serverAddr).Stats()
//
// Links join local addresses (the ones given to AddNode) and survive
// Rebind, which changes only what peers see. A node sets Datagram.ECN to
// send ECT(0); to see the codepoint of what it receives it implements
// ECNReceiver as well. Nodes needing randomness use
// Sim.Rand to stay reproducible.
//
// # Concurrency
//
// None: one goroutine runs the Sim and every Node callback; no real
// clock or timer is involved, so a simulated minute takes milliseconds.
package sim
