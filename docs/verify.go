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
// many, and returns the error of each (nil: valid). Each worker checks its
// share of the signatures with one VerifyMany (Validate's rules).
func validateAll(vals []ranger.Value[*SignedEntry], ns NamespaceID, now time.Time) []error {
	errs := make([]error, len(vals))
	run := func(lo, hi int) {
		items := make([]edverify.Item, 0, 2*(hi-lo))
		idx := make([]int, 0, hi-lo)
		for i := lo; i < hi; i++ {
			se := vals[i].Entry
			if err := se.validateFields(ns, now); err != nil {
				errs[i] = err
				continue
			}
			msg := se.entry.AppendSignedBytes(make([]byte, 0, 64+len(se.entry.Key)+48))
			items = append(items,
				edverify.Item{Pub: key.PublicKey(se.entry.Namespace), Msg: msg, Sig: se.nsSig},
				edverify.Item{Pub: key.PublicKey(se.entry.Author), Msg: msg, Sig: se.authorSig})
			idx = append(idx, i)
		}
		ok := make([]bool, len(items))
		verifier.VerifyMany(items, ok)
		for j, i := range idx {
			errs[i] = vals[i].Entry.sigError(ok[2*j], ok[2*j+1])
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(vals)/64+1)
	per := (len(vals) + workers - 1) / max(workers, 1)
	var wg sync.WaitGroup
	for lo := 0; lo < len(vals); lo += per {
		hi := min(len(vals), lo+per)
		if hi == len(vals) {
			run(lo, hi) // the last share on this goroutine
			break
		}
		wg.Go(func() { run(lo, hi) })
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
