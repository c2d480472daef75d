package docs

import (
	"crypto/ed25519"
	"runtime"
	"sync"
	"time"

	"github.com/iroh-go/iroh/docs/internal/edverify"
	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/key"
)

// verifier checks every entry signature: key.PublicKey.Verify's rules
// (dalek's verify_strict), with a precomputed table for each namespace and
// author key that signs many entries (about three times faster).
var verifier edverify.Verifier

// verifyStrict is key.PublicKey.Verify.
func verifyStrict(pub [32]byte, msg []byte, sig key.Signature) bool {
	return verifier.Verify(pub, msg, sig)
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
