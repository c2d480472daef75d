package blobs

import (
	"fmt"
	"unicode/utf8"

	"github.com/iroh-go/iroh/internal/postcard"
)

// collectionHeader starts every collection metadata blob (spec §9.2).
const collectionHeader = "CollectionV0."

// MaxCollectionMetaSize bounds the metadata blob a getter accepts (64 MiB,
// enough for millions of names), so a hostile provider cannot make us buffer
// an arbitrary amount.
const MaxCollectionMetaSize = 64 << 20

// CollectionEntry is one named member of a Collection.
type CollectionEntry struct {
	Name string
	Hash Hash
}

// Collection is a HashSeq whose first hash is a metadata blob holding the
// names and whose other hashes are the members, in order (spec §9.2). Names
// are '/'-separated relative paths when made from a directory.
type Collection []CollectionEntry

// MetaBlob returns the postcard CollectionMeta blob: the 13-byte header then
// the names as a Vec<String>.
func (c Collection) MetaBlob() []byte {
	b := append([]byte(nil), collectionHeader...)
	b = postcard.AppendUvarint(b, uint64(len(c)))
	for _, e := range c {
		b = postcard.AppendString(b, e.Name)
	}
	return b
}

// HashSeq returns the collection's hash sequence: hash(meta) then the member
// hashes.
func (c Collection) HashSeq() HashSeq {
	s := make(HashSeq, 0, len(c)+1)
	s = append(s, ComputeHash(c.MetaBlob()))
	for _, e := range c {
		s = append(s, e.Hash)
	}
	return s
}

// Root returns the collection's identity: the hash of its HashSeq blob with
// the HashSeq format.
func (c Collection) Root() HashAndFormat {
	return HashAndFormat{Hash: c.HashSeq().Hash(), Format: HashSeqFormat}
}

// ParseCollectionMeta decodes a metadata blob into its names.
func ParseCollectionMeta(b []byte) ([]string, error) {
	if len(b) < len(collectionHeader) || string(b[:len(collectionHeader)]) != collectionHeader {
		return nil, fmt.Errorf("collection meta: missing %q header", collectionHeader)
	}
	off := len(collectionHeader)
	n, k, err := postcard.Uvarint(b[off:])
	if err != nil {
		return nil, fmt.Errorf("collection meta: name count at offset %d: %w", off, err)
	}
	off += k
	// Each name takes at least one byte, so this bounds the allocation.
	if n > uint64(len(b)-off) {
		return nil, fmt.Errorf("collection meta: %d names cannot fit in %d bytes", n, len(b)-off)
	}
	names := make([]string, 0, n)
	for i := uint64(0); i < n; i++ {
		s, k, err := postcard.Bytes(b[off:], len(b))
		if err != nil {
			return nil, fmt.Errorf("collection meta: name %d at offset %d: %w", i, off, err)
		}
		if !utf8.Valid(s) {
			return nil, fmt.Errorf("collection meta: name %d at offset %d is not UTF-8", i, off)
		}
		names = append(names, string(s))
		off += k
	}
	return names, nil
}

// NewCollectionFromParts builds a Collection from its HashSeq and the
// metadata blob it names first. It checks that the metadata hashes to seq[0]
// and that there is one name per member.
func NewCollectionFromParts(seq HashSeq, meta []byte) (Collection, error) {
	if len(seq) == 0 {
		return nil, fmt.Errorf("collection: empty hash seq has no metadata blob")
	}
	if got := ComputeHash(meta); got != seq[0] {
		return nil, fmt.Errorf("collection: metadata blob hash %s, hash seq names %s", got.ShortString(), seq[0].ShortString())
	}
	names, err := ParseCollectionMeta(meta)
	if err != nil {
		return nil, err
	}
	if len(names)+1 != len(seq) {
		return nil, fmt.Errorf("collection: %d names for %d members", len(names), len(seq)-1)
	}
	c := make(Collection, len(names))
	for i, n := range names {
		c[i] = CollectionEntry{Name: n, Hash: seq[i+1]}
	}
	return c, nil
}
