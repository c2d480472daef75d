package docs

import (
	"crypto/ed25519"
	"runtime"
	"sync"
	"time"

	"filippo.io/edwards25519"
	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/key"
)

// strictKeys caches which public keys passed the small-order check of
// verify_strict, so verifying many entries of one namespace and a few
// authors decompresses each key once. Bounded: cleared when full.
var strictKeys struct {
	sync.Mutex
	ok map[[32]byte]bool
}

const maxStrictKeys = 4096

func keyStrictOK(k [32]byte) bool {
	strictKeys.Lock()
	ok, found := strictKeys.ok[k]
	strictKeys.Unlock()
	if found {
		return ok
	}
	ok = !smallOrder(k[:])
	strictKeys.Lock()
	if strictKeys.ok == nil || len(strictKeys.ok) >= maxStrictKeys {
		strictKeys.ok = make(map[[32]byte]bool)
	}
	strictKeys.ok[k] = ok
	strictKeys.Unlock()
	return ok
}

func smallOrder(b []byte) bool {
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return true
	}
	return new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) == 1
}

// verifyStrict is key.PublicKey.Verify (dalek's verify_strict rules) with
// the public key's check cached.
func verifyStrict(pub [32]byte, msg []byte, sig key.Signature) bool {
	if !keyStrictOK(pub) || smallOrder(sig[:32]) {
		return false
	}
	return ed25519.Verify(pub[:], msg, sig[:])
}

// validateAll validates vals for ns at now, in parallel when there are
// many, and returns the error of each (nil: valid).
func validateAll(vals []ranger.Value[*SignedEntry], ns NamespaceID, now time.Time) []error {
	errs := make([]error, len(vals))
	workers := min(runtime.GOMAXPROCS(0), len(vals)/64+1)
	if workers <= 1 {
		for i, v := range vals {
			errs[i] = v.Entry.Validate(ns, now)
		}
		return errs
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(vals); i += workers {
				errs[i] = vals[i].Entry.Validate(ns, now)
			}
		}()
	}
	wg.Wait()
	return errs
}

// signer holds expanded private keys, so signing many entries does not
// repeat the key expansion.
type signer struct {
	ns, author ed25519.PrivateKey
	nsID       NamespaceID
	authorID   AuthorID
}

func newSigner(ns NamespaceSecret, author Author) *signer {
	return &signer{
		ns: key.SecretKey(ns).Ed25519(), author: key.SecretKey(author).Ed25519(),
		nsID: ns.ID(), authorID: author.ID(),
	}
}

func (s *signer) sign(e Entry) *SignedEntry {
	e.Namespace, e.Author = s.nsID, s.authorID
	msg := e.AppendSignedBytes(nil)
	var as, nss key.Signature
	copy(as[:], ed25519.Sign(s.author, msg))
	copy(nss[:], ed25519.Sign(s.ns, msg))
	return NewSignedEntry(e, as, nss)
}
