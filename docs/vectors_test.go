package docs

import (
	"bytes"
	"encoding/hex"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/docs/ranger"
	"github.com/iroh-go/iroh/internal/testutil"
	"github.com/iroh-go/iroh/key"
)

type vecEntry struct {
	KeyUTF8        string `json:"key_utf8"`
	ValueUTF8      string `json:"value_utf8"`
	Len            string `json:"len"`
	HashHex        string `json:"hash_hex"`
	TimestampUS    string `json:"timestamp_us"`
	SignedBytesHex string `json:"signed_bytes_hex"`
	NamespaceSig   string `json:"namespace_signature_hex"`
	AuthorSig      string `json:"author_signature_hex"`
	Fingerprint    string `json:"fingerprint_hex"`
	Postcard       string `json:"signed_entry_postcard_hex"`
}

type docsVectors struct {
	Keys struct {
		AuthorSecret    string `json:"author_secret_hex"`
		AuthorID        string `json:"author_id"`
		NamespaceSecret string `json:"namespace_secret_hex"`
		NamespaceID     string `json:"namespace_id"`
	} `json:"keys"`
	Entries     []vecEntry `json:"entries"`
	EmptyFP     string     `json:"empty_set_fingerprint_hex"`
	AllFP       string     `json:"all_entries_fingerprint_hex"`
	SyncGetAll  syncVec    `json:"sync_session_get_all"`
	SyncFPMatch syncVec    `json:"sync_session_fingerprint_match"`
	SyncInject  struct {
		syncVec
		Injected vecEntry `json:"injected"`
	} `json:"sync_session_inject"`
	Tickets map[string]struct {
		Ticket   string `json:"ticket"`
		BytesHex string `json:"bytes_hex"`
		Kind     string `json:"parsed_capability_kind"`
	} `json:"tickets"`
	GossipOps struct {
		Put          string `json:"put_hex"`
		ContentReady string `json:"content_ready_hex"`
		SyncReport   string `json:"sync_report_hex"`
	} `json:"gossip_ops"`
	SyncInitiator struct {
		InitFrame  string `json:"init_frame_hex"`
		AbortReply string `json:"abort_reply_frame_hex"`
	} `json:"sync_initiator"`
}

type syncVec struct {
	Sent     string `json:"sent_frame_hex"`
	Reply    string `json:"reply_frame_hex"`
	ReplyHex string `json:"reply_hex"`
}

func loadVectors(t *testing.T) docsVectors {
	t.Helper()
	var v struct {
		Docs docsVectors `json:"docs"`
	}
	testutil.LoadVectors(t, "protocols.json", &v)
	if len(v.Docs.Entries) != 3 {
		t.Fatalf("vectors: %d entries, want 3", len(v.Docs.Entries))
	}
	return v.Docs
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in vectors: %v", err)
	}
	return b
}

func atoi(t testing.TB, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func vecKeys(t *testing.T, v docsVectors) (NamespaceSecret, Author) {
	t.Helper()
	ns, err := ParseNamespaceSecret(v.Keys.NamespaceSecret)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseAuthor(v.Keys.AuthorSecret)
	if err != nil {
		t.Fatal(err)
	}
	return ns, a
}

func vecSign(t *testing.T, ns NamespaceSecret, a Author, e vecEntry) *SignedEntry {
	t.Helper()
	return Sign(ns, a, Entry{
		Key: []byte(e.KeyUTF8), Len: uint64(len(e.ValueUTF8)),
		Hash: blobs.Hash(unhex(t, e.HashHex)), Timestamp: atoi(t, e.TimestampUS),
	})
}

func TestVectorKeys(t *testing.T) {
	v := loadVectors(t)
	ns, a := vecKeys(t, v)
	if got := a.ID().String(); got != v.Keys.AuthorID {
		t.Errorf("author id %s, want %s", got, v.Keys.AuthorID)
	}
	if got := ns.ID().String(); got != v.Keys.NamespaceID {
		t.Errorf("namespace id %s, want %s", got, v.Keys.NamespaceID)
	}
	if id, err := ParseNamespaceID(v.Keys.NamespaceID); err != nil || id != ns.ID() {
		t.Errorf("parse namespace id: %v", err)
	}
	if _, err := ParseAuthorID("zz" + v.Keys.AuthorID[2:]); err == nil {
		t.Error("non-hex author id parsed")
	}
}

func TestVectorEntries(t *testing.T) {
	v := loadVectors(t)
	ns, a := vecKeys(t, v)
	all := ranger.EmptyFingerprint
	for _, ve := range v.Entries {
		t.Run(ve.KeyUTF8, func(t *testing.T) {
			if h := blobs.ComputeHash([]byte(ve.ValueUTF8)); h.String() != ve.HashHex {
				t.Fatalf("content hash %s, want %s", h, ve.HashHex)
			}
			se := vecSign(t, ns, a, ve)
			e := se.Entry()
			if got := hex.EncodeToString(e.AppendSignedBytes(nil)); got != ve.SignedBytesHex {
				t.Errorf("signed bytes\n got %s\nwant %s", got, ve.SignedBytesHex)
			}
			if got := se.AuthorSignature().String(); got != ve.AuthorSig {
				t.Errorf("author signature %s, want %s", got, ve.AuthorSig)
			}
			if got := se.NamespaceSignature().String(); got != ve.NamespaceSig {
				t.Errorf("namespace signature %s, want %s", got, ve.NamespaceSig)
			}
			if got := se.Fingerprint().String(); got != ve.Fingerprint {
				t.Errorf("fingerprint %s, want %s", got, ve.Fingerprint)
			}
			enc := se.AppendBinary(nil)
			if got := hex.EncodeToString(enc); got != ve.Postcard {
				t.Errorf("postcard\n got %s\nwant %s", got, ve.Postcard)
			}
			dec, n, err := ParseSignedEntry(unhex(t, ve.Postcard))
			if err != nil || n != len(enc) {
				t.Fatalf("parse: n=%d err=%v", n, err)
			}
			if !bytes.Equal(dec.AppendBinary(nil), enc) || dec.Fingerprint() != se.Fingerprint() {
				t.Error("parsed entry differs")
			}
			now := time.UnixMicro(int64(e.Timestamp))
			if err := dec.Validate(ns.ID(), now); err != nil {
				t.Errorf("validate: %v", err)
			}
			all = all.Xor(se.Fingerprint())
		})
	}
	if ranger.EmptyFingerprint.String() != v.EmptyFP {
		t.Errorf("empty fingerprint %s, want %s", ranger.EmptyFingerprint, v.EmptyFP)
	}
	if all.String() != v.AllFP {
		t.Errorf("all-entries fingerprint %s, want %s", all, v.AllFP)
	}
}

// vecReplica returns a memory store holding the vector entries, its clock
// just after the last one.
func vecReplica(t *testing.T, v docsVectors) (*Store, *Replica) {
	t.Helper()
	ns, a := vecKeys(t, v)
	now := time.UnixMicro(int64(atoi(t, v.Entries[2].TimestampUS)) + 1000)
	s := NewMemStore(&StoreOptions{Now: func() time.Time { return now }})
	t.Cleanup(func() { s.Close() })
	if _, err := s.ImportNamespace(WriteCapability(ns)); err != nil {
		t.Fatal(err)
	}
	r, err := s.Replica(ns.ID())
	if err != nil {
		t.Fatal(err)
	}
	for _, ve := range v.Entries {
		if ok, err := r.InsertRemote(vecSign(t, ns, a, ve), key.PublicKey{}, ranger.Complete, false); !ok || err != nil {
			t.Fatalf("insert %s: %v %v", ve.KeyUTF8, ok, err)
		}
	}
	return s, r
}

type rw struct {
	io.Reader
	io.Writer
}

func complete(blobs.Hash) ranger.ContentStatus { return ranger.Complete }

// TestVectorSyncAcceptor replays the frames a JS client sent to a Rust node
// holding the three entries and checks that we answer with the bytes the
// Rust node answered.
func TestVectorSyncAcceptor(t *testing.T) {
	v := loadVectors(t)
	for _, c := range []struct {
		name       string
		sent, want string
		inserted   int
	}{
		{"get_all", v.SyncGetAll.Sent, v.SyncGetAll.Reply, 0},
		{"fingerprint_match", v.SyncFPMatch.Sent, v.SyncFPMatch.ReplyHex, 0},
		{"inject", v.SyncInject.Sent, v.SyncInject.Reply, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, r := vecReplica(t, v)
			var out bytes.Buffer
			st, err := s.SyncAccept(t.Context(), rw{bytes.NewReader(unhex(t, c.sent)), &out}, key.PublicKey{1}, nil, complete, ranger.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(out.Bytes()); got != c.want {
				t.Fatalf("reply\n got %s\nwant %s", got, c.want)
			}
			if st.Inserted != c.inserted {
				t.Fatalf("inserted %d, want %d", st.Inserted, c.inserted)
			}
			if n, _ := r.Len(); n != 3+c.inserted {
				t.Fatalf("replica has %d entries", n)
			}
		})
	}
}

// TestVectorSyncInitiator: with the three entries and the injected one, our
// Init frame is the one the Rust node sent, and its Abort{NotFound} ends the
// session with an AbortError.
func TestVectorSyncInitiator(t *testing.T) {
	v := loadVectors(t)
	_, r := vecReplica(t, v)
	dec, n, err := ParseSignedEntry(unhex(t, v.SyncInject.Injected.Postcard))
	if err != nil || n == 0 {
		t.Fatal(err)
	}
	if ok, err := r.InsertRemote(dec, key.PublicKey{}, ranger.Complete, false); !ok || err != nil {
		t.Fatalf("insert injected: %v %v", ok, err)
	}
	var out bytes.Buffer
	_, err = r.SyncInitiate(t.Context(), rw{bytes.NewReader(unhex(t, v.SyncInitiator.AbortReply)), &out}, key.PublicKey{1}, complete, ranger.Limits{})
	if got := hex.EncodeToString(out.Bytes()); got != v.SyncInitiator.InitFrame {
		t.Fatalf("init frame\n got %s\nwant %s", got, v.SyncInitiator.InitFrame)
	}
	var ae *AbortError
	if !asAbort(err, &ae) || ae.Reason != AbortNotFound {
		t.Fatalf("err %v, want abort not found", err)
	}
}

func TestVectorFramesRoundTrip(t *testing.T) {
	v := loadVectors(t)
	for name, f := range map[string]string{
		"get_all sent": v.SyncGetAll.Sent, "get_all reply": v.SyncGetAll.Reply,
		"inject sent": v.SyncInject.Sent, "inject reply": v.SyncInject.Reply,
		"initiator": v.SyncInitiator.InitFrame, "abort": v.SyncInitiator.AbortReply,
	} {
		b := unhex(t, f)
		m, n, err := ReadFrame(bytes.NewReader(b))
		if err != nil || n != len(b) {
			t.Fatalf("%s: n=%d err=%v", name, n, err)
		}
		var out bytes.Buffer
		WriteFrame(&out, &m)
		if !bytes.Equal(out.Bytes(), b) {
			t.Errorf("%s: re-encoding differs", name)
		}
	}
}

func TestVectorTickets(t *testing.T) {
	v := loadVectors(t)
	ns, _ := vecKeys(t, v)
	for name, tv := range v.Tickets {
		t.Run(name, func(t *testing.T) {
			dt, err := ParseDocTicket(tv.Ticket)
			if err != nil {
				t.Fatal(err)
			}
			if dt.Capability.ID != ns.ID() {
				t.Fatalf("namespace %s", dt.Capability.ID)
			}
			wantKind := Read
			if tv.Kind == "Write" || name == "share_write" {
				wantKind = Write
			}
			if dt.Capability.Kind != wantKind {
				t.Fatalf("capability %v, want %v", dt.Capability.Kind, wantKind)
			}
			if len(dt.Nodes) != 1 || dt.Nodes[0].ID.String() != "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664" {
				t.Fatalf("nodes %v", dt.Nodes)
			}
			// Re-encoded in the 0.100 layout, it parses back the same.
			again, err := ParseDocTicket(dt.String())
			if err != nil || again.Capability != dt.Capability || len(again.Nodes[0].Direct) != len(dt.Nodes[0].Direct) {
				t.Fatalf("round trip: %v", err)
			}
			// Every vector is 0.35's layout (captured from or parsed by a
			// 0.35 node): String035 gives back the same ticket.
			if got := dt.String035(); got != tv.Ticket {
				t.Fatalf("0.35 layout %q, want %q", got, tv.Ticket)
			}
		})
	}
	// The 0.100 layout of the constructed ticket: an endpoint with no
	// addresses is id | 00.
	dt, _ := ParseDocTicket(v.Tickets["constructed_write_ticket"].Ticket)
	want := unhex(t, v.Tickets["constructed_write_ticket"].BytesHex)
	if got := dt.AppendBinary(nil); !bytes.Equal(got, want[:len(want)-1]) {
		t.Fatalf("0.100 bytes %x", got)
	}
}

func TestVectorGossipOps(t *testing.T) {
	v := loadVectors(t)
	for name, h := range map[string]string{"put": v.GossipOps.Put, "content_ready": v.GossipOps.ContentReady, "sync_report": v.GossipOps.SyncReport} {
		b := unhex(t, h)
		op, err := ParseOp(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := op.AppendBinary(nil); !bytes.Equal(got, b) {
			t.Errorf("%s: re-encoding differs", name)
		}
		if op.Kind == OpSyncReport {
			heads, err := ParseHeads(op.Heads)
			if err != nil || len(heads) != 1 || heads[0].Author.String() != v.Keys.AuthorID {
				t.Fatalf("heads %v %v", heads, err)
			}
			if got := AppendHeads(nil, heads, 4096); !bytes.Equal(got, op.Heads) {
				t.Errorf("heads re-encoding differs")
			}
		}
	}
}
