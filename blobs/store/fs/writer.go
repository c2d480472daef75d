package fs

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/iroh-go/iroh/blobs"
)

func timeAfter() <-chan time.Time { return time.After(time.Second) }

// wstate is the shared state of the writers of one hash, registered in
// Store.writers while any is open.
type wstate struct {
	s *Store
	h blobs.Hash

	// mu guards the following. Lock order: mu before Store.mu.
	mu       mutex
	refs     int
	done     bool // the last writer closed; the state is no longer registered
	bf       blobs.Bitfield
	complete bool     // the blob was already complete when opened
	buf      []byte   // inline-sized blob data
	data     *os.File // file-backed blob data
	ob       *os.File // outboard being filled from received parents (tmp dir)
	obMem    []byte   // or in memory, when it is at most obMemMax bytes
	pend     []byte   // verified data not yet written to data, contiguous
	pendOff  uint64   // blob offset of pend[0]
	alloc    uint64   // the data file is preallocated up to here

	// Background writes of full pend buffers (pieces smaller than a chunk
	// group; whole groups are written right away). writes counts them;
	// syncWritesLocked is the barrier before checkpoints and finishing.
	writes   sync.WaitGroup
	writeSem chan struct{}
	// wmu serializes the background writes: two pwrites to one file contend
	// for its inode lock, and the kernel spins on it, burning CPU.
	wmu      sync.Mutex
	free     chan []byte
	werrMu   sync.Mutex
	werr     error
	obSeen   []uint64 // bitmap of outboard pairs written by this session
	obCount  uint64   // pairs written by this session
	unsynced int64
	changed  bool // bf changed since the last checkpoint
	err      error
}

type mutex = sync.Mutex

// writer is one handle on a wstate.
type writer struct {
	w      *wstate
	closed bool
}

// OpenWriter implements blobs.Store.
func (s *Store) OpenWriter(ctx context.Context, h blobs.Hash) (blobs.BlobWriter, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, blobs.ErrStoreClosed
		}
		w := s.writers[h]
		if w == nil {
			break // with s.mu held
		}
		// Lock order is wstate.mu before Store.mu: let go of s.mu first.
		s.mu.Unlock()
		w.mu.Lock()
		if !w.done {
			w.refs++
			w.mu.Unlock()
			return &writer{w: w}, nil
		}
		w.mu.Unlock() // it just finished; look again
	}
	// Register first so concurrent opens share this state; the lock on w
	// makes them wait until it is loaded.
	w := &wstate{s: s, h: h, refs: 1}
	w.mu.Lock()
	s.writers[h] = w
	s.mu.Unlock()
	defer w.mu.Unlock()
	rec, err := s.lookup(h)
	if err == nil && rec != nil {
		switch rec.kind {
		case kindComplete, kindInline:
			w.bf, w.complete = rec.bf, true
		case kindPartial:
			w.bf = rec.bf
			if rec.bf.Known && !w.inline(rec.bf.Size) {
				w.data, err = os.OpenFile(s.dataPath(h), os.O_RDWR, 0)
				if err != nil {
					// The data file is gone: start over.
					w.bf, w.data, err = blobs.Bitfield{}, nil, nil
				}
			} else {
				w.bf = blobs.Bitfield{} // inline partials are not persisted
			}
		}
	}
	if err != nil {
		w.done = true // openers waiting on w.mu look again
		s.mu.Lock()
		delete(s.writers, h)
		s.mu.Unlock()
		return nil, err
	}
	return &writer{w: w}, nil
}

func (w *wstate) inline(size uint64) bool { return int64(size) <= w.s.inlineMax }

func (wr *writer) Bitfield() blobs.Bitfield {
	w := wr.w
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bf
}

func (wr *writer) SetSize(size uint64) error {
	w := wr.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if wr.closed {
		return errClosedWriter
	}
	if w.bf.Known && w.bf.Size == size {
		return nil
	}
	if w.complete || w.bf.SizeValidated() {
		return fmt.Errorf("blob %s: size header %d contradicts validated size %d", w.h.ShortString(), size, w.bf.Size)
	}
	w.pend = w.pend[:0]
	w.writes.Wait()
	w.alloc = 0
	w.bf = blobs.Bitfield{Size: size, Known: true}
	w.changed = true
	w.buf = nil
	if w.inline(size) {
		if w.data != nil {
			w.data.Close()
			w.data = nil
			os.Remove(w.s.dataPath(w.h))
		}
		w.buf = make([]byte, size)
		return nil
	}
	if w.data == nil {
		f, err := os.OpenFile(w.s.dataPath(w.h), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("blob %s: %w", w.h.ShortString(), err)
		}
		w.data = f
	}
	if err := w.data.Truncate(0); err != nil {
		return fmt.Errorf("blob %s: truncate: %w", w.h.ShortString(), err)
	}
	if err := w.data.Truncate(int64(size)); err != nil {
		return fmt.Errorf("blob %s: size %d: %w", w.h.ShortString(), size, err)
	}
	w.resetOutboard()
	return nil
}

// resetOutboard forgets the pairs received so far (the size changed).
func (w *wstate) resetOutboard() {
	if w.ob != nil {
		w.ob.Close()
		os.Remove(w.ob.Name())
		w.ob = nil
	}
	w.obMem, w.obSeen, w.obCount = nil, nil, 0
}

// pairs returns the number of outboard pairs for the recorded size.
func (w *wstate) pairs() uint64 { return blobs.OutboardSize(w.bf.Size) / 64 }

func (wr *writer) WriteChunks(start uint64, data []byte) error {
	w := wr.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if wr.closed {
		return errClosedWriter
	}
	if w.complete {
		return nil
	}
	if !w.bf.Known {
		return fmt.Errorf("blob %s: write before size", w.h.ShortString())
	}
	off := start * blobs.ChunkSize
	end := off + uint64(len(data))
	if end > w.bf.Size || end < off {
		return fmt.Errorf("blob %s: write [%d,%d) beyond size %d", w.h.ShortString(), off, end, w.bf.Size)
	}
	if w.buf != nil || w.inline(w.bf.Size) {
		copy(w.buf[off:], data)
	} else if err := w.bufferLocked(off, data); err != nil {
		return err
	}
	endChunk := (end + blobs.ChunkSize - 1) / blobs.ChunkSize
	if len(data) == 0 {
		endChunk = start + 1
	}
	w.bf = w.bf.Add(start, endChunk)
	w.changed = true
	w.unsynced += int64(len(data))
	if w.unsynced >= w.s.checkpointBytes {
		return w.checkpointLocked()
	}
	return nil
}

// preallocStep is how far ahead of the verified data the data file is
// preallocated.
const preallocStep = 64 << 20

// pendMax is the write coalescing buffer: contiguous verified pieces smaller
// than directMin (single chunks of partly selected groups) are written to
// the data file in pieces of up to this size.
const pendMax = 1 << 20

// directMin is the least data written straight from the caller's buffer.
const directMin = 16 << 10 // a chunk group

// bufferLocked queues verified data at off, writing out what was queued
// when off does not continue it or the buffer is full.
func (w *wstate) bufferLocked(off uint64, data []byte) error {
	if len(w.pend) > 0 && (off != w.pendOff+uint64(len(w.pend)) || len(w.pend)+len(data) > pendMax) {
		if err := w.flushLocked(); err != nil {
			return err
		}
	}
	if len(data) >= directMin {
		// Written right away from the caller's buffer, still in the CPU's
		// cache after verification: cheaper than copying it into pend and
		// writing that later.
		if err := w.allocLocked(off + uint64(len(data))); err != nil {
			return err
		}
		w.wmu.Lock()
		_, err := w.data.WriteAt(data, int64(off))
		w.wmu.Unlock()
		if err != nil {
			return fmt.Errorf("blob %s: write: %w", w.h.ShortString(), err)
		}
		return nil
	}
	if w.pend == nil {
		w.pend = make([]byte, 0, min(pendMax, int(w.bf.Size)))
	}
	if len(w.pend) == 0 {
		w.pendOff = off
	}
	w.pend = append(w.pend, data...)
	return nil
}

// flushLocked hands the queued data to a background write (at most two in
// flight) and returns the first error of an earlier one.
func (w *wstate) flushLocked() error {
	if len(w.pend) == 0 || w.data == nil {
		w.pend = w.pend[:0]
		return w.writeErr()
	}
	if w.writeSem == nil {
		w.writeSem = make(chan struct{}, 2)
		w.free = make(chan []byte, 3)
	}
	buf, off, f := w.pend, int64(w.pendOff), w.data
	if err := w.allocLocked(w.pendOff + uint64(len(buf))); err != nil {
		return err
	}
	w.writeSem <- struct{}{}
	w.writes.Add(1)
	go func() {
		defer w.writes.Done()
		w.wmu.Lock()
		_, err := f.WriteAt(buf, off)
		w.wmu.Unlock()
		if err != nil {
			w.werrMu.Lock()
			if w.werr == nil {
				w.werr = fmt.Errorf("blob %s: write: %w", w.h.ShortString(), err)
			}
			w.werrMu.Unlock()
		}
		select {
		case w.free <- buf[:0]:
		default:
		}
		<-w.writeSem
	}()
	select {
	case w.pend = <-w.free:
	default:
		w.pend = make([]byte, 0, cap(buf))
	}
	return w.writeErr()
}

// allocLocked preallocates the data file up to at least end.
func (w *wstate) allocLocked(end uint64) error {
	if end <= w.alloc {
		return nil
	}
	// Allocate ahead of verified data only (a hostile size header must not
	// reserve the disk), 64 MiB at a time.
	n := min(max(end, w.alloc+preallocStep), w.bf.Size) - w.alloc
	if err := preallocate(w.data, int64(w.alloc), int64(n)); err != nil {
		return fmt.Errorf("blob %s: allocate: %w", w.h.ShortString(), err)
	}
	w.alloc += n
	return nil
}

func (w *wstate) writeErr() error {
	w.werrMu.Lock()
	defer w.werrMu.Unlock()
	return w.werr
}

// syncWritesLocked flushes and waits for the background writes.
func (w *wstate) syncWritesLocked() error {
	err := w.flushLocked()
	w.writes.Wait()
	if err == nil {
		err = w.writeErr()
	}
	return err
}

// obMemMax bounds an outboard kept in memory while it is received (16 MiB:
// the outboard of a 4 GiB blob); larger ones go to a temporary file.
const obMemMax = 16 << 20

// WriteParent stores a verified pair in the outboard being built, so a
// blob downloaded in one session (while any writer of it stays open) needs
// no rehash when it completes. Pairs are kept in memory, or for very large
// blobs in a temporary file; not across restarts: a resumed blob gets its
// outboard computed from the data at the end.
func (wr *writer) WriteParent(idx uint64, pair *[64]byte) error {
	w := wr.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if wr.closed {
		return errClosedWriter
	}
	if w.complete || w.data == nil || idx >= w.pairs() {
		return nil
	}
	if w.obSeen == nil {
		if n := w.pairs() * 64; n <= obMemMax {
			w.obMem = make([]byte, n)
		} else {
			f, err := os.CreateTemp(w.s.tmpDir, "ob-"+w.h.String()+"-*")
			if err != nil {
				return fmt.Errorf("blob %s: outboard: %w", w.h.ShortString(), err)
			}
			w.ob = f
		}
		w.obSeen = make([]uint64, (w.pairs()+63)/64)
	}
	if w.obSeen[idx/64]&(1<<(idx%64)) != 0 {
		return nil
	}
	if w.obMem != nil {
		copy(w.obMem[idx*64:], pair[:])
	} else if _, err := w.ob.WriteAt(pair[:], int64(idx)*64); err != nil {
		return fmt.Errorf("blob %s: outboard: %w", w.h.ShortString(), err)
	}
	w.obSeen[idx/64] |= 1 << (idx % 64)
	w.obCount++
	return nil
}

func (wr *writer) Checkpoint() error {
	w := wr.w
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.checkpointLocked()
}

// checkpointLocked schedules the bitfield for the index; the commit loop
// makes the data file durable before it commits the record, so the index
// never claims data that is not on disk.
func (w *wstate) checkpointLocked() error {
	if w.complete || !w.changed || w.data == nil {
		return nil
	}
	if err := w.syncWritesLocked(); err != nil {
		return err
	}
	w.unsynced = 0
	w.changed = false
	w.s.mu.Lock()
	w.s.enqueueLocked(w.h, &record{kind: kindPartial, bf: w.bf, sync: []string{w.s.dataPath(w.h)}})
	w.s.mu.Unlock()
	w.s.notifier.Notify(w.h)
	return nil
}

func (wr *writer) Close() error {
	w := wr.w
	s := w.s
	w.mu.Lock()
	if wr.closed {
		w.mu.Unlock()
		return nil
	}
	wr.closed = true
	w.refs--
	if w.refs > 0 {
		w.mu.Unlock()
		return nil
	}
	w.done = true
	err := w.finishLocked()
	w.mu.Unlock()
	s.mu.Lock()
	if s.writers[w.h] == w {
		delete(s.writers, w.h)
	}
	s.mu.Unlock()
	s.notifier.Notify(w.h)
	return err
}

// finishLocked runs when the last writer closes: a complete blob gets its
// outboard and a complete record; a partial one is checkpointed.
func (w *wstate) finishLocked() error {
	s := w.s
	defer func() {
		w.writes.Wait()
		if w.data != nil {
			w.data.Close()
			w.data = nil
		}
		w.resetOutboard()
	}()
	if w.complete {
		return nil
	}
	if !w.bf.Complete() {
		return w.checkpointLocked()
	}
	if w.buf != nil {
		if h := blobs.ComputeHash(w.buf); h != w.h {
			return fmt.Errorf("blob %s: complete data hashes to %s", w.h.ShortString(), h.ShortString())
		}
		s.mu.Lock()
		s.enqueueLocked(w.h, &record{kind: kindInline, bf: w.bf, inline: w.buf})
		s.mu.Unlock()
		return nil
	}
	if err := w.syncWritesLocked(); err != nil {
		return err
	}
	obPath := s.outboardPath(w.h)
	if w.obMem != nil && w.obCount == w.pairs() {
		f, err := os.CreateTemp(s.tmpDir, "ob-*")
		if err == nil {
			w.ob = f
			_, err = f.Write(w.obMem)
		}
		if err != nil {
			w.resetOutboard()
			return fmt.Errorf("blob %s: finish: outboard: %w", w.h.ShortString(), err)
		}
		w.obMem = nil
	}
	if w.ob == nil || w.obCount != w.pairs() {
		// Not every pair arrived in this session (a resumed download):
		// compute the outboard from the verified data.
		s.outboardRehashes.Add(1)
		w.resetOutboard()
		f, err := os.CreateTemp(s.tmpDir, "ob-*")
		if err != nil {
			return fmt.Errorf("blob %s: outboard: %w", w.h.ShortString(), err)
		}
		w.ob = f
		h, err := blobs.WriteOutboard(w.data, w.bf.Size, f)
		if err == nil && h != w.h {
			err = fmt.Errorf("complete data hashes to %s", h.ShortString())
		}
		if err != nil {
			w.resetOutboard()
			return fmt.Errorf("blob %s: finish: %w", w.h.ShortString(), err)
		}
	}
	name := w.ob.Name()
	w.ob.Close()
	w.ob = nil
	if err := os.Rename(name, obPath); err != nil {
		os.Remove(name)
		return fmt.Errorf("blob %s: finish: %w", w.h.ShortString(), err)
	}
	s.mu.Lock()
	s.enqueueLocked(w.h, &record{kind: kindComplete, bf: blobs.NewCompleteBitfield(w.bf.Size), sync: []string{s.dataPath(w.h), obPath}})
	s.mu.Unlock()
	return nil
}
