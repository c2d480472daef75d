package docs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/key"
)

// ContentStatusFunc tells the local state of a content hash; it is what a
// sync session reports next to each entry it sends. Nil means Missing for
// everything.
type ContentStatusFunc func(blobs.Hash) ranger.ContentStatus

// defaultID is the smallest record identifier: 64 zero bytes, empty key.
var defaultID = make([]byte, idPrefixSize)

// syncView is the ranger.Store of one session: a replica seen under the
// store's lock (held by the session around each Process call).
type syncView struct {
	s      *Store
	rs     *replicaState
	ns     NamespaceID
	from   key.PublicKey
	status ContentStatusFunc
	events []InsertEvent
	err    error
	heads  map[AuthorID]uint64 // newest timestamp received per author
	// pre holds the validation results of the message being processed,
	// found before the store's lock was taken (prevalidate).
	pre map[*SignedEntry]error
}

func (v *syncView) Len() int                                   { return v.rs.tree.Len() }
func (v *syncView) Rank(id []byte) int                         { return v.rs.tree.Rank(id) }
func (v *syncView) PrefixFingerprint(k int) ranger.Fingerprint { return v.rs.tree.PrefixFingerprint(k) }

func (v *syncView) Slice(i, j int) ([]*SignedEntry, error) {
	out := make([]*SignedEntry, 0, j-i)
	v.rs.tree.Ascend(i, func(e *SignedEntry) bool {
		if len(out) >= j-i {
			return false
		}
		out = append(out, e)
		return true
	})
	return out, nil
}

func (v *syncView) ContentStatus(e *SignedEntry) ranger.ContentStatus {
	if v.status == nil {
		return ranger.Missing
	}
	return v.status(e.Hash())
}

func (v *syncView) Put(vals []ranger.Value[*SignedEntry]) error {
	for _, val := range vals {
		if t := val.Entry.Timestamp(); t > v.heads[val.Entry.Author()] {
			v.heads[val.Entry.Author()] = t
		}
	}
	return v.s.putValidatedLocked(v.rs, v.ns, vals, v.pre, v.from, false, &v.events)
}

// SyncStats reports one sync session.
type SyncStats struct {
	Peer       key.PublicKey
	Namespace  NamespaceID
	Rounds     int // messages processed by this side
	ValuesSent int
	ValuesRecv int
	Inserted   int // entries received and inserted
	BytesSent  int
	BytesRecv  int
	Duration   time.Duration
	// Heads are the newest received timestamp per author (for a
	// SyncReport).
	Heads []Head
}

// session runs one side of /iroh-sync/1 over a stream.
type session struct {
	r      *Replica
	peer   key.PublicKey
	status ContentStatusFunc
	limits ranger.Limits
	rw     io.ReadWriter
	sess   *ranger.Session[*SignedEntry]
	view   *syncView
	stats  SyncStats
	start  time.Time
}

func (r *Replica) newSession(rw io.ReadWriter, peer key.PublicKey, status ContentStatusFunc, limits ranger.Limits) (*session, error) {
	r.s.mu.Lock()
	rs, err := r.s.replicaLocked(r.ns)
	r.s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	v := &syncView{s: r.s, rs: rs, ns: r.ns, from: peer, status: status, heads: map[AuthorID]uint64{}}
	return &session{
		r: r, peer: peer, status: status, limits: limits, rw: rw, view: v,
		sess:  ranger.NewSession[*SignedEntry](v, limits),
		stats: SyncStats{Peer: peer, Namespace: r.ns}, start: time.Now(),
	}, nil
}

// prevalidateMin is the fewest new values a message must carry for its
// signatures to be checked before the store's lock is taken.
const prevalidateMin = 64

// prevalidate checks the signatures (and the other rules of Validate) of
// the values m carries that the replica does not hold yet, without holding
// the store's lock, so a large message does not stall writers, gossip and
// other sessions while it is verified. Put then uses the results.
func (ss *session) prevalidate(m ProtocolMessage) {
	n := 0
	for _, p := range m.Parts {
		if p.Kind == ranger.RangeItem {
			n += len(p.Values)
		}
	}
	if n < prevalidateMin || ss.sess.Stats.ValuesRecv+n > ss.limits.WithDefaults().MaxValues {
		return // small, or over the limit Process enforces: as before
	}
	vals := make([]ranger.Value[*SignedEntry], 0, n)
	for _, p := range m.Parts {
		if p.Kind == ranger.RangeItem {
			vals = append(vals, p.Values...)
		}
	}
	s := ss.r.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	vals = ss.view.rs.freshLocked(vals)
	s.mu.Unlock()
	if len(vals) < prevalidateMin {
		return
	}
	errs := validateAll(vals, ss.r.ns, s.now())
	pre := make(map[*SignedEntry]error, len(vals))
	for i, v := range vals {
		pre[v.Entry] = errs[i]
	}
	ss.view.pre = pre
}

// process applies a received message under the store lock and emits the
// insert events after unlocking.
func (ss *session) process(m ProtocolMessage) (ProtocolMessage, error) {
	s := ss.r.s
	ss.prevalidate(m)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ss.view.pre = nil
		return ProtocolMessage{}, ErrClosed
	}
	reply, err := ss.sess.Process(m)
	evs := ss.view.events
	ss.view.events = nil
	ss.view.pre = nil
	s.mu.Unlock()
	ss.stats.Inserted += len(evs)
	s.metrics.inserted(Remote, len(evs))
	s.emit(evs)
	return reply, err
}

func (ss *session) send(m *Message) error {
	n, err := WriteFrame(ss.rw, m)
	ss.stats.BytesSent += n
	if m := ss.r.s.metrics; m != nil {
		m.SyncBytes.WithLabelValues("sent").Add(float64(n))
	}
	return err
}

func (ss *session) recv() (Message, error) {
	m, n, err := ReadFrame(ss.rw)
	ss.stats.BytesRecv += n
	if mt := ss.r.s.metrics; mt != nil {
		mt.SyncBytes.WithLabelValues("received").Add(float64(n))
	}
	return m, err
}

func (ss *session) finish() SyncStats {
	st := ss.sess.Stats
	ss.stats.Rounds = st.Rounds
	ss.stats.ValuesSent = st.ValuesSent
	ss.stats.ValuesRecv = st.ValuesRecv
	ss.stats.Duration = time.Since(ss.start)
	for a, t := range ss.view.heads {
		ss.stats.Heads = append(ss.stats.Heads, Head{Timestamp: t, Author: a})
	}
	return ss.stats
}

// loop answers Sync messages until one side has nothing more to say.
func (ss *session) loop(ctx context.Context, acceptor bool) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := ss.recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch m.Kind {
		case MsgSync:
		case MsgAbort:
			if acceptor {
				return fmt.Errorf("docs sync: abort from the initiator")
			}
			return &AbortError{Reason: m.Reason}
		default:
			return fmt.Errorf("docs sync: unexpected init after the first message")
		}
		reply, err := ss.process(m.Msg)
		if err != nil {
			return err
		}
		if len(reply.Parts) == 0 {
			return nil
		}
		if err := ss.send(&Message{Kind: MsgSync, Msg: reply}); err != nil {
			return err
		}
	}
}

// SyncInitiate runs the initiator's side of a sync of r with peer over rw
// (a bidirectional stream opened by the caller, who closes it): Init, then
// answering until done. Entries received are validated and inserted.
func (r *Replica) SyncInitiate(ctx context.Context, rw io.ReadWriter, peer key.PublicKey, status ContentStatusFunc, limits ranger.Limits) (SyncStats, error) {
	ss, err := r.newSession(rw, peer, status, limits)
	if err != nil {
		return SyncStats{}, err
	}
	r.s.mu.Lock()
	init, err := ss.sess.Init(defaultID)
	r.s.mu.Unlock()
	if err != nil {
		return ss.finish(), err
	}
	if err := ss.send(&Message{Kind: MsgInit, Namespace: r.ns, Msg: init}); err != nil {
		return ss.finish(), err
	}
	err = ss.loop(ctx, false)
	return ss.finish(), err
}

// AcceptFunc decides whether to serve an incoming sync of ns from peer:
// nil serves it, an *AbortError refuses with its reason. It may return a
// release function to call when the session ends.
type AcceptFunc func(ns NamespaceID, peer key.PublicKey) (release func(), err error)

// SyncAccept runs the acceptor's side on rw: it reads the Init, asks
// accept, and answers until done. It returns the stats of a served
// session; a refused one returns the *AbortError after sending the Abort.
func (s *Store) SyncAccept(ctx context.Context, rw io.ReadWriter, peer key.PublicKey, accept AcceptFunc, status ContentStatusFunc, limits ranger.Limits) (SyncStats, error) {
	m, n, err := ReadFrame(rw)
	if err != nil {
		return SyncStats{Peer: peer}, fmt.Errorf("docs sync: read init: %w", noEOF(err))
	}
	if m.Kind != MsgInit {
		return SyncStats{Peer: peer}, fmt.Errorf("docs sync: first message is kind %d, not init", m.Kind)
	}
	abort := func(reason AbortReason) (SyncStats, error) {
		_, werr := WriteFrame(rw, &Message{Kind: MsgAbort, Reason: reason})
		return SyncStats{Peer: peer, Namespace: m.Namespace}, errors.Join(&AbortError{Reason: reason}, werr)
	}
	r, err := s.Replica(m.Namespace)
	if err != nil {
		return abort(AbortNotFound)
	}
	if accept != nil {
		release, err := accept(m.Namespace, peer)
		if err != nil {
			var ae *AbortError
			if errors.As(err, &ae) {
				return abort(ae.Reason)
			}
			return abort(AbortInternalServerError)
		}
		if release != nil {
			defer release()
		}
	}
	ss, err := r.newSession(rw, peer, status, limits)
	if err != nil {
		return abort(AbortNotFound)
	}
	ss.stats.BytesRecv += n
	reply, err := ss.process(m.Msg)
	if err != nil {
		return ss.finish(), err
	}
	if len(reply.Parts) > 0 {
		if err := ss.send(&Message{Kind: MsgSync, Msg: reply}); err != nil {
			return ss.finish(), err
		}
		err = ss.loop(ctx, true)
	}
	return ss.finish(), err
}
