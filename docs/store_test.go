package docs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/key"
)

// fakeClock returns a clock starting at a fixed time that tests advance.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

type storeKind struct {
	name string
	open func(t *testing.T, opts *StoreOptions) *Store
}

var storeKinds = []storeKind{
	{"mem", func(t *testing.T, opts *StoreOptions) *Store { return NewMemStore(opts) }},
	{"bolt", func(t *testing.T, opts *StoreOptions) *Store {
		s, err := OpenStore(t.TempDir(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

func forStores(t *testing.T, fn func(t *testing.T, s *Store, clk *fakeClock)) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			s := k.open(t, &StoreOptions{Now: clk.now})
			t.Cleanup(func() { s.Close() })
			fn(t, s, clk)
		})
	}
}

func newDoc(t *testing.T, s *Store) (*Replica, NamespaceSecret, AuthorID) {
	t.Helper()
	secret := NewNamespaceSecret()
	if _, err := s.ImportNamespace(WriteCapability(secret)); err != nil {
		t.Fatal(err)
	}
	r, err := s.Replica(secret.ID())
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.NewAuthor()
	if err != nil {
		t.Fatal(err)
	}
	return r, secret, a
}

func set(t *testing.T, r *Replica, a AuthorID, k, v string) *SignedEntry {
	t.Helper()
	e, err := r.Set(a, []byte(k), blobs.ComputeHash([]byte(v)), uint64(len(v)))
	if err != nil {
		t.Fatalf("set %s: %v", k, err)
	}
	return e
}

func keys(es []*SignedEntry) string {
	var out []string
	for _, e := range es {
		out = append(out, string(e.Key()))
	}
	return strings.Join(out, ",")
}

func TestInsertRules(t *testing.T) {
	forStores(t, func(t *testing.T, s *Store, clk *fakeClock) {
		r, secret, a := newDoc(t, s)
		set(t, r, a, "a", "1")
		set(t, r, a, "a/b", "2")
		set(t, r, a, "a/c", "3")
		set(t, r, a, "b", "4")
		// Second write of a key wins even on a standing clock.
		e := set(t, r, a, "b", "5")
		if got, _ := r.Get(a, []byte("b")); got.Hash() != e.Hash() {
			t.Fatal("second write of b lost")
		}
		// Deleting prefix a removes a, a/b, a/c and leaves a tombstone.
		n, err := r.DeletePrefix(a, []byte("a"))
		if err != nil || n != 3 {
			t.Fatalf("delete prefix: %d %v, want a, a/b and a/c removed", n, err)
		}
		all, _ := r.Query(Query{})
		if keys(all) != "b" {
			t.Fatalf("after delete: %s", keys(all))
		}
		withEmpty, _ := r.Query(Query{IncludeEmpty: true})
		if keys(withEmpty) != "a,b" {
			t.Fatalf("with tombstones: %s", keys(withEmpty))
		}
		// A remote entry older than a newer non-empty prefix entry is not
		// inserted.
		author, _ := s.Author(a)
		clk.t = clk.t.Add(time.Second)
		set(t, r, a, "p", "new")
		old := Sign(secret, author, Entry{Key: []byte("p/x"), Len: 1, Hash: blobs.ComputeHash([]byte("x")), Timestamp: 1})
		if ok, err := r.InsertRemote(old, key.PublicKey{}, ranger.Complete, false); ok || err != nil {
			t.Fatalf("older entry under a newer prefix inserted: %v %v", ok, err)
		}
		// The quirk: a tombstone does not block an older entry under it.
		old2 := Sign(secret, author, Entry{Key: []byte("a/z"), Len: 1, Hash: blobs.ComputeHash([]byte("z")), Timestamp: 1})
		if ok, err := r.InsertRemote(old2, key.PublicKey{}, ranger.Complete, false); !ok || err != nil {
			t.Fatalf("older entry under a tombstone refused: %v %v", ok, err)
		}
		// Other authors are independent.
		b, _ := s.NewAuthor()
		set(t, r, b, "a/b", "other")
		latest, _ := r.Query(Query{LatestPerKey: true})
		if keys(latest) != "a/b,a/z,b,p" {
			t.Fatalf("latest per key: %s", keys(latest))
		}
		if _, err := r.Set(a, []byte("e"), blobs.EmptyHash, 0); !errors.Is(err, ErrEmptyValue) {
			t.Fatalf("empty set: %v", err)
		}
		if _, err := r.Set(a, make([]byte, MaxKeySize+1), blobs.ComputeHash([]byte("x")), 1); !errors.Is(err, ErrKeyTooLong) {
			t.Fatalf("long key: %v", err)
		}
	})
}

func TestQueries(t *testing.T) {
	forStores(t, func(t *testing.T, s *Store, clk *fakeClock) {
		r, _, a := newDoc(t, s)
		b, _ := s.NewAuthor()
		for i := range 5 {
			clk.t = clk.t.Add(time.Second)
			set(t, r, a, fmt.Sprintf("k%d", i), "a")
		}
		clk.t = clk.t.Add(time.Second)
		set(t, r, b, "k1", "b")
		set(t, r, b, "z", "b")
		for _, c := range []struct {
			name string
			q    Query
			want string
		}{
			{"all", Query{}, "k0,k1,k1,k2,k3,k4,z"},
			{"author", Query{Author: &b}, "k1,z"},
			{"exact", Query{Key: []byte("k1")}, "k1,k1"},
			{"exact author", Query{Author: &a, Key: []byte("k1")}, "k1"},
			{"prefix", Query{Key: []byte("k"), KeyPrefix: true}, "k0,k1,k1,k2,k3,k4"},
			{"latest", Query{LatestPerKey: true}, "k0,k1,k2,k3,k4,z"},
			{"limit offset", Query{Offset: 2, Limit: 3}, "k1,k2,k3"},
			{"descending", Query{Descending: true, Limit: 2}, "z,k4"},
			{"author order", Query{Sort: SortAuthorKey}, map[bool]string{true: "k0,k1,k2,k3,k4,k1,z", false: "k1,z,k0,k1,k2,k3,k4"}[bytes.Compare(a[:], b[:]) < 0]},
		} {
			t.Run(c.name, func(t *testing.T) {
				got, err := r.Query(c.q)
				if err != nil || keys(got) != c.want {
					t.Fatalf("got %s (%v), want %s", keys(got), err, c.want)
				}
			})
		}
		e, _ := r.GetLatest([]byte("k1"))
		if e.Author() != b {
			t.Fatal("latest k1 is not b's newer entry")
		}
	})
}

func TestRejects(t *testing.T) {
	forStores(t, func(t *testing.T, s *Store, clk *fakeClock) {
		clk.t = time.Now()
		r, secret, a := newDoc(t, s)
		author, _ := s.Author(a)
		other := NewNamespaceSecret()
		now := uint64(clk.t.UnixMicro())
		h := blobs.ComputeHash([]byte("v"))
		good := Sign(secret, author, Entry{Key: []byte("k"), Len: 1, Hash: h, Timestamp: now})
		bad := NewSignedEntry(good.Entry(), good.AuthorSignature(), good.AuthorSignature())
		for _, c := range []struct {
			name string
			e    *SignedEntry
			want error
		}{
			{"bad signature", bad, ErrBadSignature},
			{"wrong namespace", Sign(other, author, Entry{Key: []byte("k"), Len: 1, Hash: h, Timestamp: now}), ErrWrongNamespace},
			{"future", Sign(secret, author, Entry{Key: []byte("k"), Len: 1, Hash: h, Timestamp: now + uint64(11*time.Minute/time.Microsecond)}), ErrFutureTimestamp},
			{"empty mismatch", Sign(secret, author, Entry{Key: []byte("k"), Len: 0, Hash: h, Timestamp: now}), ErrEmptyMismatch},
			{"key too long", Sign(secret, author, Entry{Key: make([]byte, MaxKeySize+1), Len: 1, Hash: h, Timestamp: now}), ErrKeyTooLong},
			{"signed by author only (no write capability)", NewSignedEntry(good.Entry(), good.AuthorSignature(), key.SecretKey(NewNamespaceSecret()).Sign(good.Entry().AppendSignedBytes(nil))), ErrBadSignature},
		} {
			t.Run(c.name, func(t *testing.T) {
				if err := c.e.Validate(secret.ID(), clk.t); !errors.Is(err, c.want) {
					t.Fatalf("validate: %v, want %v", err, c.want)
				}
				if ok, err := r.InsertRemote(c.e, key.PublicKey{}, ranger.Complete, false); ok || err != nil {
					t.Fatalf("inserted: %v %v", ok, err)
				}
			})
		}
		if n, _ := r.Len(); n != 0 {
			t.Fatalf("%d entries after rejects", n)
		}
		// Within the tolerance is fine.
		fine := Sign(secret, author, Entry{Key: []byte("k"), Len: 1, Hash: h, Timestamp: now + uint64(9*time.Minute/time.Microsecond)})
		if ok, err := r.InsertRemote(fine, key.PublicKey{}, ranger.Complete, false); !ok || err != nil {
			t.Fatalf("entry 9 minutes ahead refused: %v %v", ok, err)
		}
		// A read replica cannot write.
		ro := NewNamespaceSecret()
		s.ImportNamespace(ReadCapability(ro.ID()))
		rr, _ := s.Replica(ro.ID())
		if _, err := rr.Set(a, []byte("k"), h, 1); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("set on read replica: %v", err)
		}
		// Upgrading to write works.
		if c, _ := s.ImportNamespace(WriteCapability(ro)); c.Kind != Write {
			t.Fatal("no upgrade to write")
		}
		if _, err := rr.Set(a, []byte("k"), h, 1); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBoltReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _, a := newDoc(t, s)
	for i := range 100 {
		set(t, r, a, fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	r.DeletePrefix(a, []byte("k09"))
	// A batch of remote entries in one commit (as a sync message brings).
	secret, _ := s.Capability(r.Namespace())
	other := NewAuthor()
	var vals []ranger.Value[*SignedEntry]
	for i := range 20 {
		vals = append(vals, ranger.Value[*SignedEntry]{Entry: Sign(secret.Secret, other, Entry{Key: fmt.Appendf(nil, "r%02d", i), Len: 1, Hash: blobs.ComputeHash([]byte{byte(i)}), Timestamp: 1})})
	}
	if n, err := r.insertRemote(vals, key.PublicKey{}, false); n != 20 || err != nil {
		t.Fatalf("batch insert: %d %v", n, err)
	}
	r.AddUsefulPeer(key.PublicKey{7})
	policy := DownloadPolicy{NothingExcept: true, Filters: []KeyFilter{{Prefix: true, Key: []byte("img/")}, {Key: []byte("readme")}}}
	if err := s.SetDownloadPolicy(r.Namespace(), policy); err != nil {
		t.Fatal(err)
	}
	def, _ := s.DefaultAuthor()
	heads, _ := r.Heads()
	want, _ := r.Query(Query{IncludeEmpty: true})
	s.Close()

	s2, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	r2, err := s2.Replica(r.Namespace())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r2.Query(Query{IncludeEmpty: true})
	if keys(got) != keys(want) || len(got) != 111 {
		t.Fatalf("after reopen %d entries: %s", len(got), keys(got))
	}
	if d, _ := s2.DefaultAuthor(); d != def {
		t.Fatal("default author lost")
	}
	if h2, _ := r2.Heads(); len(h2) != 2 || h2[0] != heads[0] {
		t.Fatal("heads lost")
	}
	if p := r2.UsefulPeers(); len(p) != 1 || p[0] != (key.PublicKey{7}) {
		t.Fatal("useful peers lost")
	}
	if p, _ := s2.DownloadPolicy(r.Namespace()); !bytes.Equal(p.AppendBinary(nil), policy.AppendBinary(nil)) {
		t.Fatalf("policy after reopen: %+v", p)
	}
	if c, _ := s2.Capability(r.Namespace()); c.Kind != Write {
		t.Fatal("capability lost")
	}
	if err := s2.DropNamespace(r.Namespace()); err != nil {
		t.Fatal(err)
	}
}

// TestCrashLosesNothingAcknowledged runs a child process that inserts
// entries into a bolt store and prints each acknowledged key, kills it with
// SIGKILL mid-way, and checks every acknowledged entry survived.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if dir := os.Getenv("DOCS_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	// Bounded: a stuck child is killed, which ends the reads below.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashLosesNothingAcknowledged$")
	cmd.Env = append(os.Environ(), "DOCS_CRASH_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 512)
	for len(acked) < 200 {
		n, err := out.Read(tmp)
		buf = append(buf, tmp[:n]...)
		for {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				break
			}
			acked = append(acked, string(buf[:i]))
			buf = buf[i+1:]
		}
		if err != nil {
			break
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(acked) < 3 {
		t.Fatalf("child acknowledged only %d entries", len(acked))
	}
	ns, err := ParseNamespaceID(acked[0])
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Replica(ns)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range acked[1:] {
		if e, _ := r.GetLatest([]byte(k)); e == nil {
			t.Fatalf("acknowledged entry %s lost after the crash", k)
		}
	}
	t.Logf("%d acknowledged entries survived SIGKILL", len(acked)-1)
}

func crashChild(dir string) {
	s, err := OpenStore(dir, nil)
	if err != nil {
		os.Exit(3)
	}
	id, _ := s.NewNamespace()
	r, _ := s.Replica(id)
	a, _ := s.DefaultAuthor()
	fmt.Println(id)
	for i := 0; ; i++ {
		k := "key-" + strconv.Itoa(i)
		if _, err := r.Set(a, []byte(k), blobs.ComputeHash([]byte(k)), uint64(len(k))); err != nil {
			os.Exit(4)
		}
		fmt.Println(k)
	}
}

// TestRandomOpsMatchModel compares the store's insertion rules against a
// straightforward model over random keys, deletes and remote entries.
func TestRandomOpsMatchModel(t *testing.T) {
	r0 := rand.New(rand.NewPCG(5, 5))
	s := NewMemStore(&StoreOptions{Now: func() time.Time { return time.Unix(1_800_000_000, 0) }})
	defer s.Close()
	rep, secret, _ := newDoc(t, s)
	authors := []Author{NewAuthor(), NewAuthor()}
	signers := []*signer{newSigner(secret, authors[0]), newSigner(secret, authors[1])}
	type mk struct {
		a AuthorID
		k string
	}
	model := map[mk]*SignedEntry{}
	for step := range 800 {
		ai := r0.IntN(2)
		a, sg := authors[ai], signers[ai]
		k := strings.Repeat("x", r0.IntN(4)) + string(rune('a'+r0.IntN(2)))
		if r0.IntN(5) == 0 {
			k = k[:r0.IntN(len(k))]
		}
		var e *SignedEntry
		if r0.IntN(4) == 0 {
			e = sg.sign(Entry{Key: []byte(k), Hash: blobs.EmptyHash, Timestamp: r0.Uint64N(50)})
		} else {
			v := []byte{byte(r0.IntN(3))}
			e = sg.sign(Entry{Key: []byte(k), Len: 1, Hash: blobs.ComputeHash(v), Timestamp: r0.Uint64N(50)})
		}
		// Model of spec §3.6.
		blocked := false
		for l := len(k); l >= 1; l-- {
			if o := model[mk{a.ID(), k[:l]}]; o != nil && !o.IsEmpty() && o.CompareRecord(e) >= 0 {
				blocked = true
			}
		}
		if !blocked {
			for m, o := range model {
				if m.a == a.ID() && strings.HasPrefix(m.k, k) && (o.CompareRecord(e) <= 0 || m.k == k) {
					delete(model, m)
				}
			}
			model[mk{a.ID(), k}] = e
		}
		ok, err := rep.InsertRemote(e, key.PublicKey{}, ranger.Complete, false)
		if err != nil || ok == blocked {
			t.Fatalf("step %d: inserted %v, model blocked %v (%v)", step, ok, blocked, err)
		}
	}
	all, _ := rep.Query(Query{IncludeEmpty: true})
	if len(all) != len(model) {
		t.Fatalf("store has %d entries, model %d", len(all), len(model))
	}
	for _, e := range all {
		if model[mk{e.Author(), string(e.Key())}] != e {
			t.Fatalf("entry %v not in model", e)
		}
	}
}
