package tls13

import (
	"bytes"
	"reflect"
	"testing"
)

// seedFlights runs a deterministic X25519 handshake (with a ticket) and
// returns every message each side sent, as parser and state machine seeds.
func seedFlights(t testing.TB) (client, server [][]byte, clientRaw, serverRaw map[Level][]byte) {
	t.Helper()
	keys, err := NewTicketKeys(seeded(9), 0)
	if err != nil {
		t.Fatal(err)
	}
	cc, sc := fuzzConfigs(keys)
	r := handshake(t, cc, sc, nil, 0)
	r.mustSucceed(t)
	if err := r.server.c.SendSessionTicket(); err != nil {
		t.Fatal(err)
	}
	r.server.drain()
	clientRaw, serverRaw = map[Level][]byte{}, map[Level][]byte{}
	for l, flights := range r.client.sentByLvl {
		for _, f := range flights {
			client = append(client, splitMessages(f)...)
			clientRaw[l] = append(clientRaw[l], f...)
		}
	}
	for l, flights := range r.server.sentByLvl {
		for _, f := range flights {
			server = append(server, splitMessages(f)...)
			serverRaw[l] = append(serverRaw[l], f...)
		}
	}
	return client, server, clientRaw, serverRaw
}

func fuzzConfigs(keys *TicketKeys) (*Config, *Config) {
	cc, sc := clientConfig(), serverConfig()
	cc.Rand, sc.Rand = seeded(1), seeded(2)
	cc.Groups, sc.Groups = []Group{X25519}, []Group{X25519, P256}
	sc.TicketKeys = keys
	cc.SessionCache = NewSessionCache(0)
	return cc, sc
}

func addSeeds(f *testing.F, typ uint8) {
	c, s, _, _ := seedFlights(f)
	for _, m := range append(c, s...) {
		if m[0] == typ {
			f.Add(m)
		}
	}
	for _, h := range []string{rfc8448ClientHello, rfc8448ServerHello, rfc8448Ticket, rfc8448ServerFin, rfc8448ResumeHelloPrefix + rfc8448ResumeBinders} {
		b := unhex(f, h)
		if b[0] == typ {
			f.Add(b)
		}
	}
	f.Add([]byte{typ, 0, 0, 0})
}

// roundTrip checks parse(marshal(v)) == v for a parsed message.
func roundTrip[M any](t *testing.T, v *M, marshal func(*M) ([]byte, error), parse func([]byte) (*M, error), clear func(*M)) {
	t.Helper()
	b, err := marshal(v)
	if err != nil {
		t.Fatalf("marshal of a parsed message: %v", err)
	}
	v2, err := parse(b)
	if err != nil {
		t.Fatalf("parse of a marshalled message: %v\n%x", err, b)
	}
	if clear != nil {
		clear(v)
		clear(v2)
	}
	if !reflect.DeepEqual(v, v2) {
		t.Fatalf("round trip changed the message:\n%+v\n%+v", v, v2)
	}
}

func FuzzParseClientHello(f *testing.F) {
	addSeeds(f, typeClientHello)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseClientHello(b)
		if err != nil {
			return
		}
		roundTrip(t, m, (*clientHello).marshal, parseClientHello, func(m *clientHello) { m.extensions = nil })
	})
}

func FuzzParseServerHello(f *testing.F) {
	addSeeds(f, typeServerHello)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseServerHello(b)
		if err != nil {
			return
		}
		if m.isHRR() && m.keyShare.group != 0 || !m.isHRR() && m.selectedGroup != 0 {
			t.Fatal("HRR and ServerHello key shares mixed")
		}
		if m.selectedGroup == 0 && m.isHRR() || m.keyShare.group == 0 && !m.isHRR() && m.keyShare.data != nil {
			return // a group 0 cannot be re-encoded; the state machine rejects it
		}
		roundTrip(t, m, (*serverHello).marshal, parseServerHello, nil)
	})
}

func FuzzParseEncryptedExtensions(f *testing.F) {
	addSeeds(f, typeEncryptedExtensions)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseEncryptedExtensions(b)
		if err != nil {
			return
		}
		roundTrip(t, m, (*encryptedExtensions).marshal, parseEncryptedExtensions, nil)
	})
}

func FuzzParseCertificate(f *testing.F) {
	addSeeds(f, typeCertificate)
	f.Add(unhex(f, rfc8448Cert))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseCertificate(b)
		if err != nil {
			return
		}
		roundTrip(t, m, (*certificateMsg).marshal, parseCertificate, nil)
		for _, e := range m.entries {
			if k, err := ParseSPKI(e); err == nil && !bytes.Equal(AppendSPKI(nil, k), e) {
				t.Fatal("SPKI round trip")
			}
		}
	})
}

func FuzzParseCertificateRequest(f *testing.F) {
	addSeeds(f, typeCertificateRequest)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseCertificateRequest(b)
		if err != nil {
			return
		}
		roundTrip(t, m, (*certificateRequest).marshal, parseCertificateRequest, nil)
	})
}

func FuzzParseCertificateVerify(f *testing.F) {
	addSeeds(f, typeCertificateVerify)
	f.Add(unhex(f, rfc8448CV))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseCertificateVerify(b)
		if err != nil {
			return
		}
		roundTrip(t, m, (*certificateVerify).marshal, parseCertificateVerify, nil)
	})
}

func FuzzParseFinished(f *testing.F) {
	addSeeds(f, typeFinished)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseFinished(b)
		if err != nil {
			return
		}
		roundTrip(t, m, (*finishedMsg).marshal, parseFinished, nil)
	})
}

func FuzzParseNewSessionTicket(f *testing.F) {
	addSeeds(f, typeNewSessionTicket)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseNewSessionTicket(b)
		if err != nil {
			return
		}
		roundTrip(t, m, (*newSessionTicket).marshal, parseNewSessionTicket, nil)
	})
}

// FuzzServer feeds a server arbitrary Initial then Handshake data: it may
// fail, never panic, and its buffer stays bounded.
func FuzzServer(f *testing.F) {
	_, _, craw, _ := seedFlights(f)
	f.Add(craw[LevelInitial], craw[LevelHandshake])
	f.Add(unhex(f, rfc8448ClientHello), []byte{})
	f.Add([]byte{1, 0, 0, 5, 3, 3, 0, 0, 0}, []byte{11, 0, 0, 0})
	keys, err := NewTicketKeys(seeded(9), 0)
	if err != nil {
		f.Fatal(err)
	}
	_, base := fuzzConfigs(keys)
	base.MaxMessageSize = 4096
	f.Fuzz(func(t *testing.T, initial, hs []byte) {
		sc := *base
		sc.Rand = seeded(2)
		s := Server(&sc)
		if err := s.HandleData(LevelInitial, initial); err == nil {
			_ = s.HandleData(LevelHandshake, hs)
		}
		for s.NextEvent().Kind != EventNone {
		}
		if len(s.in) > 4096+4 {
			t.Fatalf("buffered %d bytes", len(s.in))
		}
	})
}

// FuzzClient feeds a client (after its ClientHello) arbitrary Initial,
// Handshake and Application data. Seeds are a real server's answer to the
// same deterministic ClientHello, so mutations reach the late states.
func FuzzClient(f *testing.F) {
	_, _, _, sraw := seedFlights(f)
	f.Add(sraw[LevelInitial], sraw[LevelHandshake], sraw[LevelApplication])
	f.Add(unhex(f, rfc8448ServerHello), unhex(f, rfc8448EE), unhex(f, rfc8448Ticket))
	// The configuration is made once: making it derived the server's
	// public key (for the server name) in every execution. Each execution
	// gets its own random stream and session cache, so runs stay
	// independent and reproducible.
	base, _ := fuzzConfigs(nil)
	f.Fuzz(func(t *testing.T, initial, hs, app []byte) {
		cc := *base
		cc.Rand, cc.SessionCache = seeded(1), NewSessionCache(0)
		c := Client(&cc)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		if c.HandleData(LevelInitial, initial) == nil && c.HandleData(LevelHandshake, hs) == nil {
			_ = c.HandleData(LevelApplication, app)
		}
		for c.NextEvent().Kind != EventNone {
		}
	})
}
