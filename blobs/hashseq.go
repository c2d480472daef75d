package blobs

import "fmt"

// HashSeq is the content of a HashSeq-format blob: hashes concatenated,
// 32 bytes each, no length prefix (spec §9.1).
type HashSeq []Hash

// Bytes returns the blob content of s.
func (s HashSeq) Bytes() []byte {
	b := make([]byte, 0, len(s)*HashSize)
	for _, h := range s {
		b = append(b, h[:]...)
	}
	return b
}

// Hash returns the hash of the blob content of s.
func (s HashSeq) Hash() Hash { return ComputeHash(s.Bytes()) }

// ParseHashSeq decodes a HashSeq blob. Its length must be a multiple of 32.
func ParseHashSeq(b []byte) (HashSeq, error) {
	if len(b)%HashSize != 0 {
		return nil, fmt.Errorf("hash seq: length %d is not a multiple of %d", len(b), HashSize)
	}
	s := make(HashSeq, len(b)/HashSize)
	for i := range s {
		copy(s[i][:], b[i*HashSize:])
	}
	return s, nil
}
