package docs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/internal/postcard"
	"github.com/iroh-go/iroh/key"
	"github.com/zeebo/blake3"
)

// MaxKeySize bounds an entry's key. The spec sets none; Rust accepts any
// key inside a 1 GiB frame. 4 KiB keeps a hostile peer from making each
// index entry large while leaving room for paths.
const MaxKeySize = 4096

// FutureTolerance is how far ahead of the local clock an entry's timestamp
// may be (spec §1).
const FutureTolerance = 10 * time.Minute

// idPrefixSize is the length of namespace id plus author id at the start
// of a RecordIdentifier.
const idPrefixSize = 64

// Entry is the unsigned content of a document entry: who wrote which key,
// pointing at which content, when. Timestamp is in microseconds since the
// Unix epoch. An entry with Len 0 and the hash of the empty blob is a
// tombstone (see DeletePrefix).
type Entry struct {
	Namespace NamespaceID
	Author    AuthorID
	Key       []byte
	Len       uint64
	Hash      blobs.Hash
	Timestamp uint64
}

// IsEmpty reports whether e is a tombstone (len 0, empty hash).
func (e Entry) IsEmpty() bool { return e.Len == 0 && e.Hash == blobs.EmptyHash }

// AppendSignedBytes appends the bytes both signatures cover (spec §3.2):
// namespace || author || key || len (u64 BE) || hash || timestamp (u64 BE).
func (e Entry) AppendSignedBytes(b []byte) []byte {
	b = append(b, e.Namespace[:]...)
	b = append(b, e.Author[:]...)
	b = append(b, e.Key...)
	b = binary.BigEndian.AppendUint64(b, e.Len)
	b = append(b, e.Hash[:]...)
	return binary.BigEndian.AppendUint64(b, e.Timestamp)
}

// CompareRecord orders entries' records (spec §3.5): by timestamp, then hash.
func (e *Entry) CompareRecord(o *Entry) int {
	switch {
	case e.Timestamp < o.Timestamp:
		return -1
	case e.Timestamp > o.Timestamp:
		return 1
	}
	return bytes.Compare(e.Hash[:], o.Hash[:])
}

// SignedEntry is an Entry with the author's and the namespace's
// signatures. It is immutable once made (by Sign or ParseSignedEntry), and
// caches its record identifier and fingerprint; share it freely.
type SignedEntry struct {
	entry     Entry
	authorSig key.Signature
	nsSig     key.Signature
	id        []byte // namespace || author || key
	fp        ranger.Fingerprint
}

// Sign signs e with the namespace secret and the author; their ids replace
// e's Namespace and Author.
func Sign(ns NamespaceSecret, author Author, e Entry) *SignedEntry {
	e.Namespace = ns.ID()
	e.Author = author.ID()
	e.Key = bytes.Clone(e.Key)
	msg := e.AppendSignedBytes(nil)
	return newSignedEntry(e, key.SecretKey(author).Sign(msg), key.SecretKey(ns).Sign(msg))
}

// NewSignedEntry assembles a signed entry from its parts, as received; it
// does not verify the signatures (Verify does).
func NewSignedEntry(e Entry, authorSig, namespaceSig key.Signature) *SignedEntry {
	e.Key = bytes.Clone(e.Key)
	return newSignedEntry(e, authorSig, namespaceSig)
}

func newSignedEntry(e Entry, as, ns key.Signature) *SignedEntry {
	se := &SignedEntry{entry: e, authorSig: as, nsSig: ns}
	se.id = make([]byte, 0, idPrefixSize+len(e.Key))
	se.id = append(se.id, e.Namespace[:]...)
	se.id = append(se.id, e.Author[:]...)
	se.id = append(se.id, e.Key...)
	h := blake3.New()
	h.Write(se.id)
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], e.Timestamp)
	h.Write(ts[:])
	h.Write(e.Hash[:])
	h.Sum(se.fp[:0])
	return se
}

// Entry returns a copy of the entry (its Key aliases the signed entry's and
// must not be modified).
func (se *SignedEntry) Entry() Entry { return se.entry }

// Namespace returns the entry's namespace.
func (se *SignedEntry) Namespace() NamespaceID { return se.entry.Namespace }

// Author returns the entry's author.
func (se *SignedEntry) Author() AuthorID { return se.entry.Author }

// Key returns the entry's key; do not modify it.
func (se *SignedEntry) Key() []byte { return se.entry.Key }

// Hash returns the content hash.
func (se *SignedEntry) Hash() blobs.Hash { return se.entry.Hash }

// Len returns the content length.
func (se *SignedEntry) Len() uint64 { return se.entry.Len }

// Timestamp returns the entry's time in microseconds since the Unix epoch.
func (se *SignedEntry) Timestamp() uint64 { return se.entry.Timestamp }

// IsEmpty reports whether the entry is a tombstone.
func (se *SignedEntry) IsEmpty() bool { return se.entry.IsEmpty() }

// AuthorSignature returns the author's signature.
func (se *SignedEntry) AuthorSignature() key.Signature { return se.authorSig }

// NamespaceSignature returns the namespace's signature.
func (se *SignedEntry) NamespaceSignature() key.Signature { return se.nsSig }

// ID returns the record identifier namespace || author || key, the order
// of entries in a replica (spec §3.5). Do not modify it.
func (se *SignedEntry) ID() []byte { return se.id }

// Fingerprint returns BLAKE3(namespace || author || key || timestamp (u64
// BE) || hash) (spec §4; len is not included).
func (se *SignedEntry) Fingerprint() ranger.Fingerprint { return se.fp }

// CompareRecord orders se's record against o's (spec §3.5).
func (se *SignedEntry) CompareRecord(o *SignedEntry) int { return se.entry.CompareRecord(&o.entry) }

// String describes the entry for logs.
func (se *SignedEntry) String() string {
	return fmt.Sprintf("entry(%s/%s/%q ts=%d len=%d hash=%s)", se.entry.Namespace.ShortString(),
		se.entry.Author.ShortString(), se.entry.Key, se.entry.Timestamp, se.entry.Len, se.entry.Hash.ShortString())
}

// Errors of Validate, each counted by reason in Metrics.
var (
	ErrBadSignature    = errors.New("docs: entry signature does not verify")
	ErrFutureTimestamp = errors.New("docs: entry timestamp too far in the future")
	ErrWrongNamespace  = errors.New("docs: entry of another namespace")
	ErrEmptyMismatch   = errors.New("docs: entry length 0 with a non-empty hash, or the empty hash with a length")
	ErrKeyTooLong      = errors.New("docs: entry key too long")
)

// Verify checks both signatures with dalek's verify_strict rules
// (small-order keys and R rejected).
func (se *SignedEntry) Verify() error {
	msg := se.entry.AppendSignedBytes(make([]byte, 0, 64+len(se.entry.Key)+48))
	return se.sigError(verifyStrict(se.entry.Namespace, msg, se.nsSig), verifyStrict(se.entry.Author, msg, se.authorSig))
}

// sigError is Verify's result from the two signatures' verdicts.
func (se *SignedEntry) sigError(nsOK, authorOK bool) error {
	if !nsOK {
		return fmt.Errorf("%w: namespace signature of %s", ErrBadSignature, se)
	}
	if !authorOK {
		return fmt.Errorf("%w: author signature of %s", ErrBadSignature, se)
	}
	return nil
}

// Validate applies the acceptance rules of spec §3.4 for a replica of ns at
// local time now: the namespace, the key size, a timestamp at most
// FutureTolerance ahead, len 0 exactly for the empty hash, and both
// signatures.
func (se *SignedEntry) Validate(ns NamespaceID, now time.Time) error {
	if err := se.validateFields(ns, now); err != nil {
		return err
	}
	return se.Verify()
}

// validateFields is Validate without the signatures.
func (se *SignedEntry) validateFields(ns NamespaceID, now time.Time) error {
	e := &se.entry
	if e.Namespace != ns {
		return fmt.Errorf("%w: %s in replica %s", ErrWrongNamespace, e.Namespace.ShortString(), ns.ShortString())
	}
	if len(e.Key) > MaxKeySize {
		return fmt.Errorf("%w: %d bytes, max %d", ErrKeyTooLong, len(e.Key), MaxKeySize)
	}
	if limit := now.Add(FutureTolerance).UnixMicro(); limit >= 0 && e.Timestamp > uint64(limit) {
		return fmt.Errorf("%w: %d µs is %v ahead", ErrFutureTimestamp, e.Timestamp,
			time.Duration(e.Timestamp-uint64(now.UnixMicro()))*time.Microsecond)
	}
	if (e.Len == 0) != (e.Hash == blobs.EmptyHash) {
		return fmt.Errorf("%w: len %d hash %s", ErrEmptyMismatch, e.Len, e.Hash.ShortString())
	}
	return nil
}

// minSignedEntrySize is the smallest encoded SignedEntry: two signatures,
// a one-byte length and the 64-byte id, one-byte len, hash, one-byte time.
const minSignedEntrySize = 128 + 1 + 64 + 1 + 32 + 1

// AppendBinary appends the postcard encoding of the signed entry (spec
// §3.3).
func (se *SignedEntry) AppendBinary(b []byte) []byte {
	b = append(b, se.authorSig[:]...)
	b = append(b, se.nsSig[:]...)
	b = postcard.AppendBytes(b, se.id)
	b = postcard.AppendUvarint(b, se.entry.Len)
	b = append(b, se.entry.Hash[:]...)
	return postcard.AppendUvarint(b, se.entry.Timestamp)
}

// ParseSignedEntry decodes a SignedEntry from the start of b and returns the
// bytes consumed. It checks the encoding and the key size, not the
// signatures (Validate does).
func ParseSignedEntry(b []byte) (*SignedEntry, int, error) {
	if len(b) < 128 {
		return nil, 0, fmt.Errorf("signed entry: %d bytes, need 128 for the signatures: %w", len(b), postcard.ErrTruncated)
	}
	var e Entry
	as, _ := key.SignatureFromBytes(b[:64])
	ns, _ := key.SignatureFromBytes(b[64:128])
	off := 128
	id, n, err := postcard.Bytes(b[off:], idPrefixSize+MaxKeySize)
	if err != nil {
		return nil, 0, fmt.Errorf("signed entry id: %w", err)
	}
	if len(id) < idPrefixSize {
		return nil, 0, fmt.Errorf("signed entry id: %d bytes, need at least %d", len(id), idPrefixSize)
	}
	off += n
	copy(e.Namespace[:], id[:32])
	copy(e.Author[:], id[32:64])
	e.Key = id[64:]
	if e.Len, n, err = postcard.Uvarint(b[off:]); err != nil {
		return nil, 0, fmt.Errorf("signed entry len: %w", err)
	}
	off += n
	if len(b)-off < blobs.HashSize {
		return nil, 0, fmt.Errorf("signed entry hash: %w", postcard.ErrTruncated)
	}
	copy(e.Hash[:], b[off:])
	off += blobs.HashSize
	if e.Timestamp, n, err = postcard.Uvarint(b[off:]); err != nil {
		return nil, 0, fmt.Errorf("signed entry timestamp: %w", err)
	}
	off += n
	return NewSignedEntry(e, as, ns), off, nil
}

// entryCodec is the ranger.Codec of SignedEntry.
type entryCodec struct{}

func (entryCodec) AppendEntry(b []byte, e *SignedEntry) []byte { return e.AppendBinary(b) }
func (entryCodec) ParseEntry(b []byte) (*SignedEntry, int, error) {
	return ParseSignedEntry(b)
}
func (entryCodec) MinEntrySize() int { return minSignedEntrySize }

var _ ranger.Entry[*SignedEntry] = (*SignedEntry)(nil)
