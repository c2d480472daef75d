package tls13

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRandomHandshakes runs many seeded handshakes with random suites,
// groups, key shares, ALPN lists, resumption and 0-RTT settings and flights
// cut into random chunks, and checks each against what must happen.
func TestRandomHandshakes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(n int) int { return rng.IntN(n) }
	subset := func(all []Group) []Group {
		var out []Group
		for _, g := range all {
			if rng.IntN(2) == 0 {
				out = append(out, g)
			}
		}
		if len(out) == 0 {
			out = append(out, all[rng.IntN(len(all))])
		}
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	}
	keys, err := NewTicketKeys(seeded(3), 0)
	if err != nil {
		t.Fatal(err)
	}
	cache := NewSessionCache(0)
	groups := []Group{X25519, P256, P384, X25519MLKEM768}
	var hrrs, resumed, early, failed int
	for i := range 150 {
		cc, sc := clientConfig(), serverConfig()
		cc.Rand, sc.Rand = seeded(byte(i)), seeded(byte(i+1))
		cc.CipherSuites = []CipherSuite{DefaultCipherSuites[pick(3)]}
		if pick(2) == 0 {
			cc.CipherSuites = DefaultCipherSuites
		}
		cc.Groups, sc.Groups = subset(groups), subset(groups)
		cc.KeyShares = subset(cc.Groups)
		cc.ALPNs = []string{"a", "b", "c"}[pick(2):]
		sc.ALPNs = []string{"c", "b", "x"}[:1+pick(3)]
		cc.SessionCache, sc.TicketKeys = cache, keys
		cc.EnableEarlyData, sc.EnableEarlyData = pick(2) == 0, pick(2) == 0
		chunk := []int{0, 1, 7, 100}[pick(4)]

		common := slices.ContainsFunc(cc.Groups, func(g Group) bool { return slices.Contains(sc.Groups, g) })
		alpnOK := slices.ContainsFunc(cc.ALPNs, func(a string) bool { return slices.Contains(sc.ALPNs, a) })
		r := handshake(t, cc, sc, nil, chunk)
		switch {
		case !common:
			failed++
			if ae := alertOf(t, r.serverErr); ae.Alert != AlertHandshakeFailure {
				t.Fatalf("%d: no common group: %v", i, r.serverErr)
			}
			continue
		case !alpnOK:
			failed++
			if ae := alertOf(t, r.serverErr); ae.Alert != AlertNoApplicationProtocol {
				t.Fatalf("%d: no common ALPN: %v", i, r.serverErr)
			}
			continue
		}
		r.mustSucceed(t)
		c, s := r.client.c, r.server.c
		if !slices.Contains(cc.Groups, c.Group()) || !slices.Contains(sc.Groups, c.Group()) {
			t.Fatalf("%d: group %v not common", i, c.Group())
		}
		wantHRR := !slices.Contains(cc.KeyShares, serverChoice(sc.Groups, cc.Groups))
		if c.DidHelloRetryRequest() != wantHRR || s.DidHelloRetryRequest() != wantHRR {
			t.Fatalf("%d: hrr %v, want %v (client %v shares %v, server %v)", i, c.DidHelloRetryRequest(), wantHRR, cc.Groups, cc.KeyShares, sc.Groups)
		}
		if c.UsedResumption() != s.UsedResumption() || c.EarlyDataAccepted() != s.EarlyDataAccepted() {
			t.Fatalf("%d: sides disagree on resumption or 0-RTT", i)
		}
		if c.EarlyDataAccepted() {
			if !cc.EnableEarlyData || !sc.EnableEarlyData || wantHRR || !bytesEq(r.client.write[LevelEarly], r.server.read[LevelEarly]) {
				t.Fatalf("%d: 0-RTT accepted wrongly", i)
			}
		}
		if pick(2) == 0 {
			deliverTicket(t, r)
		}
		if wantHRR {
			hrrs++
		}
		if c.UsedResumption() {
			resumed++
		}
		if c.EarlyDataAccepted() {
			early++
		}
	}
	t.Logf("150 handshakes: %d HelloRetryRequests, %d resumed, %d with 0-RTT, %d failed as they must", hrrs, resumed, early, failed)
	if hrrs == 0 || resumed == 0 || early == 0 || failed == 0 {
		t.Error("the random mix missed a case")
	}
}

func serverChoice(server, client []Group) Group {
	for _, g := range server {
		if slices.Contains(client, g) {
			return g
		}
	}
	return 0
}

func bytesEq(a, b []byte) bool { return len(a) > 0 && string(a) == string(b) }
