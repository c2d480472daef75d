package sim

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Node is a datagram endpoint the simulator drives: a sans-IO QUIC
// connection or endpoint, or any other datagram protocol machine. All
// methods are called from the goroutine running the Sim, never
// concurrently, with now the simulated time.
type Node interface {
	// Receive hands the node a datagram that arrived at its local address
	// to from the (possibly NAT-rebound) address from. datagram is the
	// node's to keep.
	Receive(now time.Time, from, to netip.AddrPort, datagram []byte)
	// Poll returns the next datagram the node wants to send now, or false
	// when it has nothing more to send until its next input or timeout.
	// It may build the datagram in buf (MaxDatagram bytes); the Sim copies
	// Data before calling Poll again. From must be one of the node's
	// local addresses.
	Poll(now time.Time, buf []byte) (Datagram, bool)
	// Timeout is when the node next wants HandleTimeout; zero for never.
	Timeout() time.Time
	// HandleTimeout runs the node's timers due at now.
	HandleTimeout(now time.Time)
}

// Datagram is one UDP payload with its addresses.
type Datagram struct {
	From, To netip.AddrPort
	Data     []byte
	// ECN is the IP header's ECN codepoint: ECNNotECT, ECNECT1, ECNECT0
	// or ECNCE.
	ECN uint8
}

// The ECN codepoints (RFC 3168), as the two low bits of the IP TOS byte.
const (
	ECNNotECT uint8 = 0
	ECNECT1   uint8 = 1
	ECNECT0   uint8 = 2
	ECNCE     uint8 = 3
)

// ECNReceiver is a Node that wants the ECN codepoint of the datagrams it
// receives: the Sim calls ReceiveECN instead of Receive.
type ECNReceiver interface {
	ReceiveECN(now time.Time, from, to netip.AddrPort, ecn uint8, datagram []byte)
}

// MaxDatagram is the size of the buffer Poll gets; a datagram longer
// than any link's MTU is dropped (and counted) anyway.
const MaxDatagram = 65535

// DefaultStart is the simulated time a Sim starts at when Options says
// nothing; fixed so traces are reproducible.
var DefaultStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Options configure a Sim.
type Options struct {
	// Seed seeds the PCG random source of every random choice (loss,
	// jitter, duplication, reordering). Same seed, same nodes: same run.
	Seed1, Seed2 uint64
	// Start is the initial simulated time; zero means DefaultStart.
	Start time.Time
	// DefaultLink, when set, connects any two node addresses that have no
	// link of their own; nil leaves them unreachable (drops counted as
	// DropNoRoute).
	DefaultLink *LinkConfig
	// Trace, when set, is called for every datagram put on a link, dropped
	// or delivered, from the goroutine running the Sim (for debugging and
	// for tests that look at individual datagrams).
	Trace func(TraceEvent)
	// MaxEventsAtOnce stops a run (with ErrStalled) that processes this
	// many events without time advancing (a node whose timeout never moves
	// on), or polls one node this many times in a row; zero means
	// 1,000,000.
	MaxEventsAtOnce int
}

// TraceKind is what happened to a datagram.
type TraceKind uint8

// The trace kinds.
const (
	TraceSent      TraceKind = iota // offered to a link
	TraceDelivered                  // handed to the receiving node
	TraceDropped                    // dropped, see TraceEvent.Reason
)

func (k TraceKind) String() string {
	switch k {
	case TraceSent:
		return "sent"
	case TraceDelivered:
		return "delivered"
	case TraceDropped:
		return "dropped"
	}
	return fmt.Sprintf("trace(%d)", uint8(k))
}

// TraceEvent is one datagram's step, for Options.Trace. From is the
// sender's external address, To the address it was sent to.
type TraceEvent struct {
	Time     time.Time
	Kind     TraceKind
	From, To netip.AddrPort
	Size     int
	ECN      uint8
	Reason   DropReason // for TraceDropped
}

func (s *Sim) traceEvent(k TraceKind, from, to netip.AddrPort, size int, ecn uint8, r DropReason) {
	if s.opts.Trace != nil {
		s.opts.Trace(TraceEvent{Time: s.now, Kind: k, From: from, To: to, Size: size, ECN: ecn, Reason: r})
	}
}

// ErrStalled is returned when a run makes no progress in time.
var ErrStalled = errors.New("sim: too many events at one instant (a node's timeout does not advance?)")

// Sim is a deterministic simulated network: a virtual clock, an event
// queue ordered by time then insertion, nodes at addresses and links
// between them. Not safe for concurrent use: one goroutine runs it and
// calls its methods between runs (or from node callbacks).
type Sim struct {
	now  time.Time
	rng  *rand.Rand
	opts Options

	events eventHeap
	seq    uint64

	nodes    []*nodeState
	byLocal  map[netip.AddrPort]*nodeState // local address -> node
	external map[netip.AddrPort]netip.AddrPort
	internal map[netip.AddrPort]netip.AddrPort // external -> local
	links    map[linkKey]*Link
	nats     map[netip.AddrPort]*nat // by local address

	stalled     bool
	buf         []byte
	trace       hash.Hash
	traceHeader []byte
	stats       Stats
}

// Stats counts datagrams the Sim could not even put on a link, and more.
type Stats struct {
	NoRoute   uint64 // unknown source or destination, or no link
	Events    uint64
	NATRemaps uint64 // NAT mappings that expired and were replaced
}

type nodeState struct {
	n       Node
	addrs   []netip.AddrPort
	timerAt time.Time
	timerID uint64 // the live timer event's generation
	removed bool
}

type linkKey struct{ from, to netip.AddrPort }

// New returns a Sim.
func New(opts *Options) *Sim {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	if o.MaxEventsAtOnce <= 0 {
		o.MaxEventsAtOnce = 1_000_000
	}
	return &Sim{
		now:      o.Start,
		rng:      rand.New(rand.NewPCG(o.Seed1, o.Seed2)),
		opts:     o,
		byLocal:  make(map[netip.AddrPort]*nodeState),
		external: make(map[netip.AddrPort]netip.AddrPort),
		internal: make(map[netip.AddrPort]netip.AddrPort),
		links:    make(map[linkKey]*Link),
		nats:     make(map[netip.AddrPort]*nat),
		buf:      make([]byte, MaxDatagram),
		trace:    sha256.New(),
	}
}

// Now is the simulated time.
func (s *Sim) Now() time.Time { return s.now }

// Rand is the Sim's seeded random source, for nodes that need
// randomness and must stay reproducible.
func (s *Sim) Rand() *rand.Rand { return s.rng }

// Stats returns the Sim's own counters.
func (s *Sim) Stats() Stats { return s.stats }

// TraceHash is a hash of every delivery so far (time, addresses, bytes):
// equal hashes mean equal runs.
func (s *Sim) TraceHash() uint64 {
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(s.trace.Sum(sum[:0]))
}

// AddNode places n at one or more local addresses (several for multipath).
// Each address is also its external address until Rebind changes it. The
// node is first polled when the run reaches the current time.
func (s *Sim) AddNode(n Node, addrs ...netip.AddrPort) error {
	if len(addrs) == 0 {
		return fmt.Errorf("sim: node with no address")
	}
	addrs = append([]netip.AddrPort(nil), addrs...)
	for i, a := range addrs {
		addrs[i] = unmap(a)
	}
	ns := &nodeState{n: n, addrs: addrs}
	for _, a := range addrs {
		if !a.IsValid() {
			return fmt.Errorf("sim: invalid address %v", a)
		}
		if _, dup := s.byLocal[a]; dup {
			return fmt.Errorf("sim: address %v taken", a)
		}
		if _, dup := s.internal[a]; dup {
			return fmt.Errorf("sim: address %v taken", a)
		}
	}
	for _, a := range addrs {
		s.byLocal[a] = ns
		s.external[a] = a
		s.internal[a] = a
	}
	s.nodes = append(s.nodes, ns)
	// First poll once the caller has set up links: as an event at now.
	s.push(&event{at: s.now, node: ns, kick: true})
	return nil
}

// Rebind changes the external address of the node address local, as a
// NAT rebinding does: peers see its datagrams come from ext, datagrams to
// the old external address (also those in flight) are dropped as
// DropNoRoute, and datagrams to ext reach it at local.
func (s *Sim) Rebind(local, ext netip.AddrPort) error {
	local, ext = unmap(local), unmap(ext)
	if _, ok := s.byLocal[local]; !ok {
		return fmt.Errorf("sim: rebind: no node at %v", local)
	}
	if l, taken := s.internal[ext]; taken && l != local {
		return fmt.Errorf("sim: rebind: %v taken", ext)
	}
	delete(s.internal, s.external[local])
	s.external[local] = ext
	s.internal[ext] = local
	return nil
}

// nat is an endpoint-independent NAT (full cone) in front of one node
// address whose mapping expires after idle time without outbound traffic.
type nat struct {
	ip       netip.Addr
	idle     time.Duration
	lastOut  time.Time
	nextPort uint16
}

// SetNAT puts the node address local behind a NAT with public address ip:
// peers see local as ip and a port the NAT picks. The mapping lives while
// local sends at least once per idle; after that, datagrams to the old
// public address are dropped (DropNoRoute) and local's next datagram gets
// a new port, so its peers see a NAT rebinding. Mapping and filtering are
// endpoint-independent (RFC 4787).
func (s *Sim) SetNAT(local netip.AddrPort, ip netip.Addr, idle time.Duration) error {
	local, ip = unmap(local), ip.Unmap()
	if _, ok := s.byLocal[local]; !ok {
		return fmt.Errorf("sim: NAT: no node at %v", local)
	}
	if idle <= 0 || !ip.IsValid() {
		return fmt.Errorf("sim: NAT: idle %v, address %v", idle, ip)
	}
	n := &nat{ip: ip, idle: idle, nextPort: 40000}
	s.nats[local] = n
	s.natMap(local, n)
	n.lastOut = s.now
	return nil
}

func (s *Sim) natRemap(local netip.AddrPort, n *nat) {
	s.natMap(local, n)
	s.stats.NATRemaps++
}

// natMap gives local a fresh public port.
func (s *Sim) natMap(local netip.AddrPort, n *nat) {
	for {
		ext := netip.AddrPortFrom(n.ip, n.nextPort)
		n.nextPort++
		if n.nextPort == 0 {
			n.nextPort = 1024
		}
		if _, taken := s.internal[ext]; !taken {
			s.Rebind(local, ext)
			return
		}
	}
}

func (s *Sim) natExpired(local netip.AddrPort) bool {
	n := s.nats[local]
	return n != nil && s.now.Sub(n.lastOut) > n.idle
}

// RemoveNode takes n off the network, as a crashed or closed endpoint:
// its timers stop and datagrams in flight to its addresses are dropped
// (DropNoRoute), unless a node added later at the same address receives
// them, as a restarted endpoint would. Its links stay for a successor.
func (s *Sim) RemoveNode(n Node) {
	for i, ns := range s.nodes {
		if ns.n != n {
			continue
		}
		ns.removed = true
		ns.timerID++
		for _, a := range ns.addrs {
			delete(s.byLocal, a)
			delete(s.internal, s.external[a])
			delete(s.external, a)
			delete(s.nats, a)
		}
		s.nodes = append(s.nodes[:i], s.nodes[i+1:]...)
		return
	}
}

// External is the address peers see for the node address local.
func (s *Sim) External(local netip.AddrPort) netip.AddrPort { return s.external[unmap(local)] }

// Wake polls n for datagrams and re-reads its Timeout; call it after
// changing a node from outside (e.g. giving it data to send).
func (s *Sim) Wake(n Node) {
	for _, ns := range s.nodes {
		if ns.n == n {
			s.wake(ns)
		}
	}
}

func (s *Sim) wake(ns *nodeState) {
	for i := 0; ; i++ {
		if i >= s.opts.MaxEventsAtOnce {
			s.stalled = true // a node that never stops sending at one instant
			break
		}
		d, ok := ns.n.Poll(s.now, s.buf)
		if !ok {
			break
		}
		s.send(ns, d)
	}
	at := ns.n.Timeout()
	if at.IsZero() {
		ns.timerAt = time.Time{}
		ns.timerID++ // cancels a pending timer event
		return
	}
	if at.Equal(ns.timerAt) {
		return
	}
	if at.Before(s.now) {
		at = s.now
	}
	ns.timerID++
	ns.timerAt = at
	s.push(&event{at: at, node: ns, timerID: ns.timerID})
}

// unmap turns an IPv4-mapped IPv6 address into plain IPv4, so both
// spellings of one address reach the same node.
func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

func (s *Sim) send(from *nodeState, d Datagram) {
	d.From, d.To = unmap(d.From), unmap(d.To)
	if s.byLocal[d.From] != from {
		s.stats.NoRoute++
		return
	}
	if n := s.nats[d.From]; n != nil {
		if s.now.Sub(n.lastOut) > n.idle {
			s.natRemap(d.From, n)
		}
		n.lastOut = s.now
	}
	toLocal, ok := s.internal[d.To]
	if !ok || s.natExpired(toLocal) {
		s.stats.NoRoute++
		s.traceEvent(TraceDropped, s.external[d.From], d.To, len(d.Data), d.ECN&3, DropNoRoute)
		return
	}
	l := s.links[linkKey{d.From, toLocal}]
	if l == nil {
		if s.opts.DefaultLink == nil {
			s.stats.NoRoute++
			s.traceEvent(TraceDropped, s.external[d.From], d.To, len(d.Data), d.ECN&3, DropNoRoute)
			return
		}
		l = s.Link(d.From, toLocal, *s.opts.DefaultLink)
	}
	l.transmit(s, s.external[d.From], d.To, d.Data, d.ECN&3)
}

// Run processes events until the simulated time would pass until (events
// at until included) and leaves the clock at until.
func (s *Sim) Run(until time.Time) error {
	return s.run(until, nil)
}

// RunUntil processes events until cond returns true (checked after each
// event), or the time would pass limit: then it returns an error.
func (s *Sim) RunUntil(cond func() bool, limit time.Time) error {
	if cond() {
		return nil
	}
	if err := s.run(limit, cond); err != nil {
		return err
	}
	if !cond() {
		return fmt.Errorf("sim: condition not met by %v (simulated %v)", limit.Format(time.RFC3339Nano), limit.Sub(s.opts.Start))
	}
	return nil
}

func (s *Sim) run(until time.Time, cond func() bool) error {
	same := 0
	for len(s.events) > 0 {
		e := s.events[0]
		if e.at.After(until) {
			break
		}
		heap.Pop(&s.events)
		if e.at.After(s.now) {
			s.now = e.at
			same = 0
		}
		if same++; same > s.opts.MaxEventsAtOnce || s.stalled {
			return ErrStalled
		}
		s.stats.Events++
		if e.node != nil && e.node.removed {
			continue
		}
		if e.kick {
			s.wake(e.node)
		} else if e.node != nil {
			if e.timerID != e.node.timerID {
				continue // cancelled or superseded
			}
			e.node.timerAt = time.Time{}
			e.node.n.HandleTimeout(s.now)
			s.wake(e.node)
		} else {
			s.deliver(e)
		}
		if s.stalled {
			return ErrStalled
		}
		if cond != nil && cond() {
			return nil
		}
	}
	if cond == nil && until.After(s.now) {
		s.now = until
	}
	return nil
}

func (s *Sim) deliver(e *event) {
	l := e.link
	if !l.up && l.cfg.DropInFlightOnCut {
		l.stats.Dropped[DropPartition]++
		s.traceEvent(TraceDropped, e.from, e.to, len(e.data), e.ecn, DropPartition)
		return
	}
	toLocal, ok := s.internal[e.to]
	if !ok || s.natExpired(toLocal) {
		l.stats.Dropped[DropNoRoute]++
		s.traceEvent(TraceDropped, e.from, e.to, len(e.data), e.ecn, DropNoRoute)
		return
	}
	ns := s.byLocal[toLocal]
	s.traceEvent(TraceDelivered, e.from, e.to, len(e.data), e.ecn, 0)
	l.stats.Delivered++
	l.stats.BytesDelivered += uint64(len(e.data))
	s.traceHeader = binary.BigEndian.AppendUint64(s.traceHeader[:0], uint64(s.now.UnixNano()))
	s.traceHeader, _ = e.from.AppendBinary(s.traceHeader)
	s.traceHeader, _ = toLocal.AppendBinary(s.traceHeader)
	s.traceHeader = binary.BigEndian.AppendUint32(s.traceHeader, uint32(len(e.data)))
	s.traceHeader = append(s.traceHeader, e.ecn)
	s.trace.Write(s.traceHeader)
	s.trace.Write(e.data)
	if r, ok := ns.n.(ECNReceiver); ok {
		r.ReceiveECN(s.now, e.from, toLocal, e.ecn, e.data)
	} else {
		ns.n.Receive(s.now, e.from, toLocal, e.data)
	}
	s.wake(ns)
}

func (s *Sim) push(e *event) {
	e.seq = s.seq
	s.seq++
	heap.Push(&s.events, e)
}

// event is a datagram arriving (link set) or a node timer (node set).
type event struct {
	at  time.Time
	seq uint64

	node    *nodeState
	timerID uint64
	kick    bool // poll the node (its first time)

	link     *Link
	from, to netip.AddrPort
	data     []byte
	ecn      uint8
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
