package tls13

import (
	"bytes"
	"testing"
	"time"
)

// resumption sets up configs sharing a session cache and ticket keys, runs
// a first handshake and delivers n tickets.
type resumption struct {
	cache *SessionCache
	keys  *TicketKeys
	clock *fakeClock
	early bool
}

func newResumption(t *testing.T, early bool) *resumption {
	keys, err := NewTicketKeys(nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &resumption{cache: NewSessionCache(0), keys: keys, clock: &fakeClock{t: time.Unix(1_700_000_000, 0)}, early: early}
}

func (rs *resumption) configs() (*Config, *Config) {
	cc, sc := clientConfig(), serverConfig()
	cc.SessionCache, sc.TicketKeys = rs.cache, rs.keys
	cc.EnableEarlyData, sc.EnableEarlyData = rs.early, rs.early
	cc.Now, sc.Now = rs.clock.now, rs.clock.now
	return cc, sc
}

func (rs *resumption) first(t *testing.T, tickets int) *result {
	t.Helper()
	cc, sc := rs.configs()
	r := handshake(t, cc, sc, nil, 0)
	r.mustSucceed(t)
	for range tickets {
		deliverTicket(t, r)
	}
	if r.client.stored != tickets {
		t.Fatalf("client stored %d tickets, want %d", r.client.stored, tickets)
	}
	return r
}

func TestResumption(t *testing.T) {
	rs := newResumption(t, false)
	rs.first(t, 2)
	rs.clock.t = rs.clock.t.Add(time.Minute)
	cc, sc := rs.configs()
	r := handshake(t, cc, sc, nil, 0)
	r.mustSucceed(t)
	if !r.client.c.UsedResumption() || !r.server.c.UsedResumption() {
		t.Fatal("not resumed")
	}
	if r.client.c.EarlyDataOffered() || r.client.early != 0 {
		t.Error("0-RTT offered with early data disabled")
	}
	// No certificates: server flight is EncryptedExtensions + Finished.
	msgs := splitMessages(r.server.sentByLvl[LevelHandshake][0])
	if len(msgs) != 2 || msgs[0][0] != typeEncryptedExtensions || msgs[1][0] != typeFinished {
		t.Errorf("resumed server flight has %d messages", len(msgs))
	}
	if r.server.c.PeerKey() != clientSecret.Public() || r.client.c.PeerKey() != serverSecret.Public() {
		t.Error("peer keys not carried by the ticket")
	}
	// One ticket left for this server name.
	if s := rs.cache.Take(cc.ServerName, rs.clock.now()); s == nil || !bytes.Equal(s.TransportParameters, sc.TransportParameters) || s.ALPN != testALPN {
		t.Errorf("second ticket %+v", s)
	}
}

func TestEarlyDataAccepted(t *testing.T) {
	for _, suite := range DefaultCipherSuites {
		t.Run(suite.String(), func(t *testing.T) {
			rs := newResumption(t, true)
			cc, sc := rs.configs()
			cc.CipherSuites = []CipherSuite{suite}
			r := handshake(t, cc, sc, nil, 0)
			r.mustSucceed(t)
			deliverTicket(t, r)
			rs.clock.t = rs.clock.t.Add(3 * time.Second)

			cc, sc = rs.configs()
			cc.CipherSuites = []CipherSuite{suite}
			c := Client(cc)
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			if s := c.EarlySession(); s == nil || !bytes.Equal(s.TransportParameters, sc.TransportParameters) || c.PeerKey() != serverSecret.Public() {
				t.Fatalf("early session %+v", s)
			}
			r = handshakeConns(t, c, Server(sc), nil, 0)
			r.mustSucceed(t)
			if r.client.early != EventEarlyDataAccepted || r.server.early != EventEarlyDataAccepted {
				t.Fatalf("early data: client %v server %v", r.client.early, r.server.early)
			}
			if !c.EarlyDataAccepted() || !r.server.c.EarlyDataAccepted() {
				t.Error("EarlyDataAccepted false")
			}
			ew, er := r.client.write[LevelEarly], r.server.read[LevelEarly]
			if len(ew) != suite.Hash().Size() || !bytes.Equal(ew, er) {
				t.Errorf("early secrets client %x server %x", ew, er)
			}
			if r.client.suites[LevelEarly] != suite {
				t.Errorf("early suite %v", r.client.suites[LevelEarly])
			}
		})
	}
}

func TestEarlyDataRejected(t *testing.T) {
	cases := []struct {
		name        string
		second      func(cc, sc *Config)
		wantResumed bool
	}{
		{"server disables early data", func(cc, sc *Config) { sc.EnableEarlyData = false }, true},
		{"server selects another ALPN", func(cc, sc *Config) {
			cc.ALPNs = []string{testALPN, "other"}
			sc.ALPNs = []string{"other"}
		}, true},
		{"server has lost its ticket keys", func(cc, sc *Config) {
			keys, _ := NewTicketKeys(nil, 0)
			sc.TicketKeys = keys
		}, false},
		{"server forces a HelloRetryRequest", func(cc, sc *Config) { sc.Groups = []Group{P256} }, true},
		{"the ALPN no longer opts in to early data", func(cc, sc *Config) {
			sc.EarlyDataALPN = func(alpn string) bool { return alpn != testALPN }
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := newResumption(t, true)
			rs.first(t, 1)
			cc, sc := rs.configs()
			tc.second(cc, sc)
			r := handshake(t, cc, sc, nil, 0)
			r.mustSucceed(t)
			if !r.client.c.EarlyDataOffered() {
				t.Fatal("0-RTT not offered")
			}
			if r.client.early != EventEarlyDataRejected || r.server.early != EventEarlyDataRejected {
				t.Errorf("early data: client %v, server %v", r.client.early, r.server.early)
			}
			if r.client.c.UsedResumption() != tc.wantResumed {
				t.Errorf("resumed %v, want %v", r.client.c.UsedResumption(), tc.wantResumed)
			}
			if r.server.read[LevelEarly] != nil {
				t.Error("server installed 0-RTT keys")
			}
		})
	}
}

// TestEarlyDataALPNOptOut: a server that allows 0-RTT only for other
// ALPNs issues tickets without early data on this one, so the client does
// not even offer it.
func TestEarlyDataALPNOptOut(t *testing.T) {
	rs := newResumption(t, true)
	cc, sc := rs.configs()
	asked := ""
	sc.EarlyDataALPN = func(alpn string) bool { asked = alpn; return false }
	r := handshake(t, cc, sc, nil, 0)
	r.mustSucceed(t)
	deliverTicket(t, r)
	if asked != testALPN {
		t.Fatalf("EarlyDataALPN asked for %q", asked)
	}
	cc, sc = rs.configs()
	r = handshake(t, cc, sc, nil, 0)
	r.mustSucceed(t)
	if !r.client.c.UsedResumption() {
		t.Fatal("not resumed")
	}
	if r.client.c.EarlyDataOffered() {
		t.Error("client offered 0-RTT with a ticket that does not allow it")
	}
}

// TestEarlyDataTooOld: a ticket whose age the client misstates by more than
// the window resumes without 0-RTT.
func TestEarlyDataTicketAge(t *testing.T) {
	rs := newResumption(t, true)
	rs.first(t, 1)
	cc, sc := rs.configs()
	skewed := &fakeClock{t: rs.clock.t.Add(time.Minute)}
	sc.Now = skewed.now
	r := handshake(t, cc, sc, nil, 0)
	r.mustSucceed(t)
	if !r.client.c.UsedResumption() || r.client.early != EventEarlyDataRejected {
		t.Errorf("resumed %v early %v", r.client.c.UsedResumption(), r.client.early)
	}
}

// TestTicketReplay: the same ClientHello (ticket and binder) resumes once;
// its replay gets a full handshake and no 0-RTT.
func TestTicketReplay(t *testing.T) {
	rs := newResumption(t, true)
	rs.first(t, 1)
	cc, sc := rs.configs()
	c := Client(cc)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	hello := c.NextEvent()
	if hello.Kind != EventWriteData || !c.EarlyDataOffered() {
		t.Fatal("no 0-RTT ClientHello")
	}
	for i, want := range []bool{true, false, false} {
		s := Server(sc)
		if err := s.HandleData(LevelInitial, hello.Data); err != nil {
			t.Fatal(err)
		}
		if s.UsedResumption() != want || s.EarlyDataAccepted() != want {
			t.Errorf("attempt %d: resumed %v early %v, want %v", i, s.UsedResumption(), s.EarlyDataAccepted(), want)
		}
	}
}

func TestReplayTableBound(t *testing.T) {
	rs := newResumption(t, false)
	keys, _ := NewTicketKeys(nil, 1)
	rs.keys = keys
	rs.first(t, 2)
	for i, want := range []bool{true, false} {
		cc, sc := rs.configs()
		r := handshake(t, cc, sc, nil, 0)
		r.mustSucceed(t)
		if r.client.c.UsedResumption() != want {
			t.Errorf("resumption %d: %v, want %v (table of one)", i, r.client.c.UsedResumption(), want)
		}
	}
}

func TestTicketExpiry(t *testing.T) {
	rs := newResumption(t, false)
	rs.first(t, 1)
	rs.clock.t = rs.clock.t.Add(TicketLifetime + time.Second)
	cc, sc := rs.configs()
	r := handshake(t, cc, sc, nil, 0)
	r.mustSucceed(t)
	if r.client.c.UsedResumption() {
		t.Error("expired ticket resumed")
	}
}

func TestSessionCacheBounds(t *testing.T) {
	c := NewSessionCache(2)
	now := time.Now()
	s := func() *Session { return &Session{lifetime: time.Hour, receivedAt: now} }
	for range 10 {
		c.Put("a", s())
	}
	c.Put("b", s())
	c.Put("c", s())
	if c.Len() != 2 {
		t.Errorf("%d names, want 2", c.Len())
	}
	if c.Take("a", now) != nil {
		t.Error("least recently used name not evicted")
	}
	if c.Take("b", now) == nil || c.Take("b", now) != nil {
		t.Error("a ticket is handed out once")
	}
	c.Put("d", &Session{lifetime: time.Second, receivedAt: now})
	if c.Take("d", now.Add(2*time.Second)) != nil {
		t.Error("expired session returned")
	}
}

func TestSendSessionTicketErrors(t *testing.T) {
	if err := Client(clientConfig()).SendSessionTicket(); err == nil {
		t.Error("client sent a ticket")
	}
	if err := Server(serverConfig()).SendSessionTicket(); err == nil {
		t.Error("ticket before the handshake")
	}
	r := handshake(t, clientConfig(), serverConfig(), nil, 0)
	if err := r.server.c.SendSessionTicket(); err == nil {
		t.Error("ticket without TicketKeys")
	}
}

// TestBadBinder: a tampered binder is fatal.
func TestBadBinder(t *testing.T) {
	rs := newResumption(t, false)
	rs.first(t, 1)
	cc, sc := rs.configs()
	r := handshake(t, cc, sc, rewrite(true, typeClientHello, func(m []byte) []byte { m[len(m)-1] ^= 1; return m }), 0)
	if ae := alertOf(t, r.serverErr); ae.Alert != AlertDecryptError {
		t.Errorf("got %v", r.serverErr)
	}
}

// TestTicketMaxEarlyData: QUIC tickets carry 0xffffffff or nothing.
func TestTicketMaxEarlyData(t *testing.T) {
	r := handshake(t, clientConfig(), serverConfig(), nil, 0)
	r.mustSucceed(t)
	nst := mustBytes((&newSessionTicket{lifetime: 60, nonce: []byte{1}, ticket: []byte{1}, maxEarlyData: 16384}).marshal())
	err := r.client.c.HandleData(LevelApplication, nst)
	if ae := alertOf(t, err); ae.Alert != AlertIllegalParameter {
		t.Errorf("got %v", err)
	}
}

// TestTicketData: the server's opaque ticket data comes back on resumption
// and decides 0-RTT through AcceptEarlyData.
func TestTicketData(t *testing.T) {
	for _, accept := range []bool{true, false} {
		rs := newResumption(t, true)
		cc, sc := rs.configs()
		sc.TicketData = []byte("max_data=1000")
		r := handshake(t, cc, sc, nil, 0)
		r.mustSucceed(t)
		deliverTicket(t, r)
		if r.server.c.ResumedTicketData() != nil {
			t.Error("ticket data without resumption")
		}
		cc, sc = rs.configs()
		var seen []byte
		sc.AcceptEarlyData = func(d []byte) bool { seen = d; return accept }
		r = handshake(t, cc, sc, nil, 0)
		r.mustSucceed(t)
		if string(seen) != "max_data=1000" || string(r.server.c.ResumedTicketData()) != "max_data=1000" {
			t.Errorf("AcceptEarlyData saw %q, ResumedTicketData %q", seen, r.server.c.ResumedTicketData())
		}
		if r.client.c.EarlyDataAccepted() != accept || !r.client.c.UsedResumption() {
			t.Errorf("accept %v: early %v resumed %v", accept, r.client.c.EarlyDataAccepted(), r.client.c.UsedResumption())
		}
	}
	cfg := serverConfig()
	cfg.TicketData = make([]byte, 2000)
	if err := Server(cfg).Start(); err == nil {
		t.Error("2000 bytes of ticket data accepted")
	}
}

// TestTicketKeyRotation: a ticket survives one Rotate, not two.
func TestTicketKeyRotation(t *testing.T) {
	for _, rotations := range []int{0, 1, 2} {
		rs := newResumption(t, false)
		rs.first(t, 1)
		for range rotations {
			if err := rs.keys.Rotate(); err != nil {
				t.Fatal(err)
			}
		}
		cc, sc := rs.configs()
		r := handshake(t, cc, sc, nil, 0)
		r.mustSucceed(t)
		if want := rotations < 2; r.client.c.UsedResumption() != want {
			t.Errorf("after %d rotations: resumed %v, want %v", rotations, r.client.c.UsedResumption(), want)
		}
	}
}
