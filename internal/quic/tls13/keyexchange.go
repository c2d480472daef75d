package tls13

import (
	"crypto/ecdh"
	"crypto/mlkem"
	"fmt"
	"io"
)

// Group is a TLS named group (supported_groups, key_share).
type Group uint16

// The key exchange groups this package implements.
const (
	// X25519 is what every Rust iroh build has.
	X25519 Group = 0x001d
	// P256 (secp256r1) is the second group Rust iroh's ring build offers.
	P256 Group = 0x0017
	// P384 (secp384r1) is the third group of the ring build.
	P384 Group = 0x0018
	// X25519MLKEM768 is the hybrid post-quantum group (draft-ietf-tls-ecdhe-mlkem):
	// ML-KEM-768 first, then X25519, in shares and in the shared secret.
	X25519MLKEM768 Group = 0x11ec
)

func (g Group) String() string {
	switch g {
	case X25519:
		return "x25519"
	case P256:
		return "secp256r1"
	case P384:
		return "secp384r1"
	case X25519MLKEM768:
		return "X25519MLKEM768"
	}
	return fmt.Sprintf("Group(%#04x)", uint16(g))
}

// supported reports whether this package can do key exchange in g.
func (g Group) supported() bool {
	return g == X25519 || g == P256 || g == P384 || g == X25519MLKEM768
}

func (g Group) curve() ecdh.Curve {
	switch g {
	case P256:
		return ecdh.P256()
	case P384:
		return ecdh.P384()
	}
	return ecdh.X25519()
}

// keyShare is a client's pending key exchange in one group.
type keyShare struct {
	group Group
	ec    *ecdh.PrivateKey
	kem   *mlkem.DecapsulationKey768
	share []byte // what goes on the wire
}

// newECDHKey reads a private key from rand. crypto/ecdh ignores its rand
// argument since Go 1.26, so a seeded test reader would not make the bytes
// deterministic; reading the scalar ourselves does.
func newECDHKey(c ecdh.Curve, size int, rand io.Reader) (*ecdh.PrivateKey, error) {
	b := make([]byte, size)
	for range 100 {
		if _, err := io.ReadFull(rand, b); err != nil {
			return nil, err
		}
		if k, err := c.NewPrivateKey(b); err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("no valid scalar from the random source")
}

func scalarSize(g Group) int {
	if g == P384 {
		return 48
	}
	return 32
}

// generateKeyShare starts a key exchange in g.
func generateKeyShare(g Group, rand io.Reader) (*keyShare, error) {
	ks := &keyShare{group: g}
	switch g {
	case X25519, P256, P384:
		k, err := newECDHKey(g.curve(), scalarSize(g), rand)
		if err != nil {
			return nil, err
		}
		ks.ec = k
		ks.share = k.PublicKey().Bytes()
	case X25519MLKEM768:
		seed := make([]byte, mlkem.SeedSize)
		if _, err := io.ReadFull(rand, seed); err != nil {
			return nil, err
		}
		dk, err := mlkem.NewDecapsulationKey768(seed)
		if err != nil {
			return nil, err
		}
		k, err := newECDHKey(ecdh.X25519(), 32, rand)
		if err != nil {
			return nil, err
		}
		ks.kem, ks.ec = dk, k
		ks.share = append(dk.EncapsulationKey().Bytes(), k.PublicKey().Bytes()...)
	default:
		return nil, fmt.Errorf("unsupported group %v", g)
	}
	return ks, nil
}

// finish computes the shared secret from the server's share.
func (ks *keyShare) finish(serverShare []byte) ([]byte, error) {
	switch ks.group {
	case X25519MLKEM768:
		if len(serverShare) != mlkem.CiphertextSize768+32 {
			return nil, fmt.Errorf("%v server share is %d bytes, want %d", ks.group, len(serverShare), mlkem.CiphertextSize768+32)
		}
		kemSecret, err := ks.kem.Decapsulate(serverShare[:mlkem.CiphertextSize768])
		if err != nil {
			return nil, fmt.Errorf("%v decapsulate: %w", ks.group, err)
		}
		ecSecret, err := ecdhShared(ks.ec, serverShare[mlkem.CiphertextSize768:])
		if err != nil {
			return nil, fmt.Errorf("%v: %w", ks.group, err)
		}
		return append(kemSecret, ecSecret...), nil
	default:
		s, err := ecdhShared(ks.ec, serverShare)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", ks.group, err)
		}
		return s, nil
	}
}

func ecdhShared(priv *ecdh.PrivateKey, peer []byte) ([]byte, error) {
	pub, err := priv.Curve().NewPublicKey(peer)
	if err != nil {
		return nil, fmt.Errorf("bad peer key share of %d bytes: %w", len(peer), err)
	}
	s, err := priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("key exchange: %w", err)
	}
	return s, nil
}

// serverKeyExchange answers a client's share in g: the server's share and
// the shared secret.
func serverKeyExchange(g Group, clientShare []byte, rand io.Reader) (share, secret []byte, err error) {
	switch g {
	case X25519, P256, P384:
		k, err := newECDHKey(g.curve(), scalarSize(g), rand)
		if err != nil {
			return nil, nil, err
		}
		s, err := ecdhShared(k, clientShare)
		if err != nil {
			return nil, nil, fmt.Errorf("%v: %w", g, err)
		}
		return k.PublicKey().Bytes(), s, nil
	case X25519MLKEM768:
		if len(clientShare) != mlkem.EncapsulationKeySize768+32 {
			return nil, nil, fmt.Errorf("%v client share is %d bytes, want %d", g, len(clientShare), mlkem.EncapsulationKeySize768+32)
		}
		ek, err := mlkem.NewEncapsulationKey768(clientShare[:mlkem.EncapsulationKeySize768])
		if err != nil {
			return nil, nil, fmt.Errorf("%v: %w", g, err)
		}
		kemSecret, ct := ek.Encapsulate()
		k, err := newECDHKey(ecdh.X25519(), 32, rand)
		if err != nil {
			return nil, nil, err
		}
		ecSecret, err := ecdhShared(k, clientShare[mlkem.EncapsulationKeySize768:])
		if err != nil {
			return nil, nil, fmt.Errorf("%v: %w", g, err)
		}
		return append(ct, k.PublicKey().Bytes()...), append(kemSecret, ecSecret...), nil
	}
	return nil, nil, fmt.Errorf("unsupported group %v", g)
}
