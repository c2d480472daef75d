package blobs

import (
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/zeebo/blake3"
)

// HashSize is the length of a blob hash in bytes.
const HashSize = 32

// Hash is the BLAKE3 hash of a blob: the root of its bao tree (spec §1). It
// is a comparable value usable as a map key; the zero Hash is not the hash of
// any blob in practice and is reported by IsZero.
type Hash [HashSize]byte

// EmptyHash is the hash of the empty blob.
var EmptyHash = ComputeHash(nil)

// ComputeHash returns the BLAKE3 hash of data.
func ComputeHash(data []byte) Hash { return Hash(blake3.Sum256(data)) }

// IsZero reports whether h is the all-zero value.
func (h Hash) IsZero() bool { return h == Hash{} }

// String returns the canonical (iroh-blobs 0.103) text form: 64 lowercase hex
// characters.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ShortString returns the first 10 hex characters, for logs.
func (h Hash) ShortString() string { return hex.EncodeToString(h[:5]) }

// Base32 returns the iroh-blobs 0.35 display form: 52 lowercase base32
// characters without padding.
func (h Hash) Base32() string {
	return strings.ToLower(b32.EncodeToString(h[:]))
}

// MarshalText implements encoding.TextMarshaler with the hex form.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; see ParseHash.
func (h *Hash) UnmarshalText(b []byte) error {
	v, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = v
	return nil
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ErrInvalidHash is wrapped by errors from ParseHash.
var ErrInvalidHash = errors.New("invalid hash")

// ParseHash parses the text form of a hash the way both Rust versions do: 64
// characters are lowercase hex (uppercase is rejected); anything else is
// base32 without padding, case-insensitive. The result must be 32 bytes.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) == 2*HashSize {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= 'A' && c <= 'F' {
				return h, fmt.Errorf("%w: uppercase hex at offset %d", ErrInvalidHash, i)
			}
		}
		if _, err := hex.Decode(h[:], []byte(s)); err != nil {
			return h, fmt.Errorf("%w: %v", ErrInvalidHash, err)
		}
		return h, nil
	}
	b, err := b32.DecodeString(strings.ToUpper(s))
	if err != nil {
		return h, fmt.Errorf("%w: %q is not 64 hex characters (nor 52 base32): %v", ErrInvalidHash, s, err)
	}
	if len(b) != HashSize {
		return h, fmt.Errorf("%w: %d characters, want 64 hex characters (or 52 base32)", ErrInvalidHash, len(s))
	}
	copy(h[:], b)
	return h, nil
}

// BlobFormat says how a blob is interpreted: Raw bytes or a HashSeq whose
// children are blobs too. Its wire form is a postcard enum (one varint).
type BlobFormat uint8

const (
	// Raw is an opaque byte string.
	Raw BlobFormat = 0
	// HashSeqFormat is a blob holding a sequence of 32-byte hashes (spec §9.1).
	HashSeqFormat BlobFormat = 1
)

// String returns "Raw" or "HashSeq".
func (f BlobFormat) String() string {
	switch f {
	case Raw:
		return "Raw"
	case HashSeqFormat:
		return "HashSeq"
	}
	return fmt.Sprintf("BlobFormat(%d)", uint8(f))
}

// IsHashSeq reports whether f is HashSeqFormat.
func (f BlobFormat) IsHashSeq() bool { return f == HashSeqFormat }

// HashAndFormat names content: a blob hash and how to interpret it. It is the
// unit that tags and tickets point at. Wire form: 32 hash bytes + format
// varint (33 bytes).
type HashAndFormat struct {
	Hash   Hash
	Format BlobFormat
}

// HashAndFormatSize is the length of the HashAndFormat wire form.
const HashAndFormatSize = HashSize + 1

// String returns 64 hex chars for Raw and "s" + 64 hex chars for HashSeq.
func (hf HashAndFormat) String() string {
	if hf.Format == HashSeqFormat {
		return "s" + hf.Hash.String()
	}
	return hf.Hash.String()
}

// ParseHashAndFormat parses the String form.
func ParseHashAndFormat(s string) (HashAndFormat, error) {
	f := Raw
	if len(s) == 2*HashSize+1 && s[0] == 's' {
		f, s = HashSeqFormat, s[1:]
	}
	h, err := ParseHash(s)
	return HashAndFormat{Hash: h, Format: f}, err
}

// AppendBinary appends the 33-byte wire form.
func (hf HashAndFormat) AppendBinary(b []byte) []byte {
	b = append(b, hf.Hash[:]...)
	return append(b, byte(hf.Format))
}

// ParseHashAndFormatBinary decodes the 33-byte wire form.
func ParseHashAndFormatBinary(b []byte) (HashAndFormat, int, error) {
	var hf HashAndFormat
	if len(b) < HashAndFormatSize {
		return hf, 0, fmt.Errorf("hash and format: %d bytes, want %d", len(b), HashAndFormatSize)
	}
	copy(hf.Hash[:], b)
	switch f := BlobFormat(b[HashSize]); f {
	case Raw, HashSeqFormat:
		hf.Format = f
	default:
		return hf, 0, fmt.Errorf("hash and format: unknown format %d at offset %d", b[HashSize], HashSize)
	}
	return hf, HashAndFormatSize, nil
}
