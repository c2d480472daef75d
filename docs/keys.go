package docs

import (
	"encoding/hex"
	"fmt"

	"github.com/iroh-go/iroh/key"
)

// NamespaceID names a document: the Ed25519 public key of its
// NamespaceSecret. It is also the document's gossip topic. The zero value is
// invalid.
type NamespaceID [32]byte

// AuthorID names an author: the Ed25519 public key of its Author secret.
type AuthorID [32]byte

// NamespaceSecret is the secret of a document; holding it is the write
// capability. Its String never shows the secret.
type NamespaceSecret key.SecretKey

// Author is the secret key an author signs entries with. Its String never
// shows the secret.
type Author key.SecretKey

// NewNamespaceSecret returns a random namespace secret.
func NewNamespaceSecret() NamespaceSecret { return NamespaceSecret(key.NewSecretKey()) }

// NewAuthor returns a random author.
func NewAuthor() Author { return Author(key.NewSecretKey()) }

// ID returns the namespace's public id.
func (s NamespaceSecret) ID() NamespaceID { return NamespaceID(key.SecretKey(s).Public()) }

// ID returns the author's public id.
func (a Author) ID() AuthorID { return AuthorID(key.SecretKey(a).Public()) }

// HexString returns the secret as 64 lowercase hex characters (the text form
// iroh-docs uses); keep it secret.
func (s NamespaceSecret) HexString() string { return hex.EncodeToString(s[:]) }

// HexString returns the secret as 64 lowercase hex characters; keep it
// secret.
func (a Author) HexString() string { return hex.EncodeToString(a[:]) }

// String names the namespace by its id, never showing the secret.
func (s NamespaceSecret) String() string { return "NamespaceSecret(" + s.ID().ShortString() + ")" }

// String names the author by its id, never showing the secret.
func (a Author) String() string { return "Author(" + a.ID().ShortString() + ")" }

// String returns the id as 64 lowercase hex characters.
func (id NamespaceID) String() string { return hex.EncodeToString(id[:]) }

// ShortString returns the first 10 hex characters (iroh's fmt_short).
func (id NamespaceID) ShortString() string { return hex.EncodeToString(id[:5]) }

// IsZero reports whether id is the zero (invalid) id.
func (id NamespaceID) IsZero() bool { return id == NamespaceID{} }

// String returns the id as 64 lowercase hex characters.
func (id AuthorID) String() string { return hex.EncodeToString(id[:]) }

// ShortString returns the first 10 hex characters.
func (id AuthorID) ShortString() string { return hex.EncodeToString(id[:5]) }

// MarshalText implements encoding.TextMarshaler.
func (id NamespaceID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// MarshalText implements encoding.TextMarshaler.
func (id AuthorID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

func parseHex32(what, s string) ([32]byte, error) {
	var out [32]byte
	if len(s) != 64 {
		return out, fmt.Errorf("%s: %d characters, want 64 hex", what, len(s))
	}
	if _, err := hex.Decode(out[:], []byte(s)); err != nil {
		return out, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// ParseNamespaceID parses 64 hex characters.
func ParseNamespaceID(s string) (NamespaceID, error) {
	b, err := parseHex32("namespace id", s)
	return NamespaceID(b), err
}

// ParseAuthorID parses 64 hex characters.
func ParseAuthorID(s string) (AuthorID, error) {
	b, err := parseHex32("author id", s)
	return AuthorID(b), err
}

// ParseNamespaceSecret parses 64 hex characters.
func ParseNamespaceSecret(s string) (NamespaceSecret, error) {
	b, err := parseHex32("namespace secret", s)
	return NamespaceSecret(b), err
}

// ParseAuthor parses an author secret of 64 hex characters.
func ParseAuthor(s string) (Author, error) {
	b, err := parseHex32("author secret", s)
	return Author(b), err
}

// CapabilityKind tells write from read capabilities.
type CapabilityKind uint8

// Capability kinds, numbered as on the wire (Capability enum index).
const (
	Write CapabilityKind = 0
	Read  CapabilityKind = 1
)

// String returns "write" or "read".
func (k CapabilityKind) String() string {
	if k == Write {
		return "write"
	}
	return "read"
}

// Capability is what a replica may do with a namespace: Write holds the
// secret, Read only the id.
type Capability struct {
	Kind   CapabilityKind
	Secret NamespaceSecret // Write only
	ID     NamespaceID     // always set
}

// WriteCapability returns the write capability of s.
func WriteCapability(s NamespaceSecret) Capability {
	return Capability{Kind: Write, Secret: s, ID: s.ID()}
}

// ReadCapability returns the read capability of id.
func ReadCapability(id NamespaceID) Capability { return Capability{Kind: Read, ID: id} }

// AppendBinary appends the postcard encoding (spec §2): 00 20 secret[32] or
// 01 id[32].
func (c Capability) AppendBinary(b []byte) []byte {
	if c.Kind == Write {
		b = append(b, 0, 32)
		return append(b, c.Secret[:]...)
	}
	b = append(b, 1)
	return append(b, c.ID[:]...)
}

// ParseCapability decodes a capability and returns the bytes consumed.
func ParseCapability(b []byte) (Capability, int, error) {
	if len(b) < 1 {
		return Capability{}, 0, fmt.Errorf("capability: empty")
	}
	switch b[0] {
	case 0:
		if len(b) < 34 {
			return Capability{}, 0, fmt.Errorf("capability: write needs 34 bytes, have %d", len(b))
		}
		if b[1] != 32 {
			return Capability{}, 0, fmt.Errorf("capability: secret length %d, want 32", b[1])
		}
		return WriteCapability(NamespaceSecret(b[2:34])), 34, nil
	case 1:
		if len(b) < 33 {
			return Capability{}, 0, fmt.Errorf("capability: read needs 33 bytes, have %d", len(b))
		}
		id := NamespaceID(b[1:33])
		if !key.PublicKey(id).Valid() {
			return Capability{}, 0, fmt.Errorf("capability: namespace id %s: %w", id.ShortString(), key.ErrInvalidPoint)
		}
		return ReadCapability(id), 33, nil
	}
	return Capability{}, 0, fmt.Errorf("capability: kind %d unknown", b[0])
}

// Merge returns the stronger of c and o for the same namespace (write wins).
func (c Capability) Merge(o Capability) Capability {
	if o.Kind == Write {
		return o
	}
	return c
}
