package blobs

import "sync"

// TempTag protects content from garbage collection while the process holds
// it (spec §11): every import and download returns one. Close releases the
// protection; it is safe to call more than once and from any goroutine. A
// TempTag that is never closed protects its content until the store closes.
type TempTag struct {
	hf      HashAndFormat
	once    sync.Once
	release func()
}

// NewTempTag returns a TempTag for hf that calls release once on Close.
// Stores use it; release may be nil.
func NewTempTag(hf HashAndFormat, release func()) *TempTag {
	return &TempTag{hf: hf, release: release}
}

// HashAndFormat returns the protected content.
func (t *TempTag) HashAndFormat() HashAndFormat { return t.hf }

// Hash returns the protected hash.
func (t *TempTag) Hash() Hash { return t.hf.Hash }

// Close releases the protection.
func (t *TempTag) Close() {
	t.once.Do(func() {
		if t.release != nil {
			t.release()
		}
	})
}
