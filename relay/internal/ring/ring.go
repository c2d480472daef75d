// Package ring is a FIFO queue on a ring buffer that grows on demand and
// gives its memory back when it empties: the relay keeps one per
// connection, and most of them hold nothing most of the time. Not safe for
// concurrent use; callers lock.
package ring

// minCap is the first allocation; queues up to this size are kept when
// they empty.
const minCap = 8

// Ring is a FIFO queue. The zero value is empty and ready to use.
type Ring[T any] struct {
	buf  []T
	head int
	n    int
}

// Len returns the number of queued items.
func (r *Ring[T]) Len() int { return r.n }

// Push appends v, growing the buffer if it is full. Bounding the length is
// the caller's policy.
func (r *Ring[T]) Push(v T) {
	if r.n == len(r.buf) {
		nb := make([]T, max(minCap, 2*len(r.buf)))
		for i := 0; i < r.n; i++ {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = v
	r.n++
}

// Peek returns the oldest item without removing it.
func (r *Ring[T]) Peek() (T, bool) {
	var zero T
	if r.n == 0 {
		return zero, false
	}
	return r.buf[r.head], true
}

// Pop removes and returns the oldest item. When the queue becomes empty a
// buffer larger than the initial size is released.
func (r *Ring[T]) Pop() (T, bool) {
	var zero T
	if r.n == 0 {
		return zero, false
	}
	v := r.buf[r.head]
	r.buf[r.head] = zero
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	if r.n == 0 {
		r.head = 0
		if len(r.buf) > minCap {
			r.buf = nil
		}
	}
	return v, true
}
