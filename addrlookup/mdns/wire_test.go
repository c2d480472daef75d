package mdns

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var service = serviceFQDN(ServiceName)

func testInfo(t testing.TB) addrlookup.EndpointInfo {
	u, err := endpointaddr.ParseRelayURL("https://relay.example.org./")
	if err != nil {
		t.Fatal(err)
	}
	return addrlookup.EndpointInfo{ID: key.NewSecretKey().Public(), RelayURLs: []endpointaddr.RelayURL{u},
		Direct: []netip.AddrPort{netip.MustParseAddrPort("192.168.1.2:4433"), netip.MustParseAddrPort("[fe80::1]:4433"),
			netip.MustParseAddrPort("10.0.0.2:5000")}, UserData: `hi "x" \ y=z`}
}

// TestResponseLayout checks the announcement record by record against the
// swarm-discovery layout described in the package doc.
func TestResponseLayout(t *testing.T) {
	info := testInfo(t)
	m := buildResponse(service, info)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var got dns.Msg
	if err := got.Unpack(b); err != nil {
		t.Fatal(err)
	}
	inst := strings.ToLower(info.ID.Base32())
	owner := inst + "._irohv1._udp.local."
	if got.Id != 0 || !got.Response || !got.Authoritative || len(got.Question) != 0 {
		t.Fatalf("header %v", got.MsgHdr)
	}
	want := []string{
		owner + "\t0\tIN\tSRV\t0 0 4433 " + inst + "-4433.local.",
		owner + "\t0\tIN\tSRV\t0 0 5000 " + inst + "-5000.local.",
		owner + "\t0\tIN\tTXT\t\"relay=https://relay.example.org./\" \"user-data=hi \\\"x\\\" \\\\ y=z\"",
	}
	for i, rr := range got.Answer {
		if rr.String() != want[i] {
			t.Fatalf("answer %d\n got %s\nwant %s", i, rr, want[i])
		}
	}
	wantExtra := []string{
		inst + "-4433.local.\t0\tIN\tA\t192.168.1.2",
		inst + "-4433.local.\t0\tIN\tAAAA\tfe80::1",
		inst + "-5000.local.\t0\tIN\tA\t10.0.0.2",
	}
	for i, rr := range got.Extra {
		if rr.String() != wantExtra[i] {
			t.Fatalf("extra %d\n got %s\nwant %s", i, rr, wantExtra[i])
		}
	}
	if buildResponse(service, addrlookup.EndpointInfo{ID: info.ID, UserData: "x"}) != nil {
		t.Fatal("announcement without addresses")
	}
}

func TestParseRoundTrip(t *testing.T) {
	info := testInfo(t)
	b, _ := buildResponse(service, info).Pack()
	var m dns.Msg
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	pm := parseMessage(&m, service)
	if pm.query || len(pm.peers) != 1 {
		t.Fatalf("%+v", pm)
	}
	if got := pm.peers[0]; !got.Equal(info) {
		t.Fatalf("got %+v\nwant %+v", got, info)
	}
	// Another service is ignored; a query is recognized.
	if pm := parseMessage(&m, serviceFQDN("other")); len(pm.peers) != 0 {
		t.Fatal("other service parsed")
	}
	qb, _ := buildQuery(service).Pack()
	var q dns.Msg
	q.Unpack(qb)
	if !parseMessage(&q, service).query {
		t.Fatal("query not recognized")
	}
	if parseMessage(&q, serviceFQDN("other")).query {
		t.Fatal("query for other service recognized")
	}
}

// TestParseForeignLayout parses a response assembled by hand the way
// swarm-discovery's sender does (uppercase instance, names as written by
// another implementation, unrelated records mixed in).
func TestParseForeignLayout(t *testing.T) {
	id := key.NewSecretKey().Public()
	inst := strings.ToUpper(id.Base32())
	m := new(dns.Msg)
	m.Response = true
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	m.Answer = []dns.RR{
		rr(inst + "._irohv1._udp.local. 0 IN SRV 0 0 1234 " + inst + "-1234.local."),
		rr(inst + "._irohv1._udp.local. 0 IN TXT \"relay=http://r.example:3340\" \"user-data=a=b\" \"flag\""),
		rr("junk._other._udp.local. 0 IN SRV 0 0 9 x-9.local."),
	}
	m.Extra = []dns.RR{
		rr(inst + "-1234.local. 0 IN A 192.0.2.7"),
		rr(inst + "-1234.local. 0 IN AAAA 2001:db8::7"),
		rr("x-9.local. 0 IN A 192.0.2.9"),
		rr("elsewhere.example. 0 IN A 192.0.2.10"),
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var back dns.Msg
	back.Unpack(b)
	pm := parseMessage(&back, service)
	if len(pm.peers) != 1 {
		t.Fatalf("%+v", pm)
	}
	u, _ := endpointaddr.ParseRelayURL("http://r.example:3340")
	want := addrlookup.EndpointInfo{ID: id, RelayURLs: []endpointaddr.RelayURL{u}, UserData: "a=b",
		Direct: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.7:1234"), netip.MustParseAddrPort("[2001:db8::7]:1234")}}
	if got := pm.peers[0]; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

// FuzzParseMessage: arbitrary packets never panic the parser, and what
// it accepts survives announce/parse.
func FuzzParseMessage(f *testing.F) {
	info := testInfo(f)
	b, _ := buildResponse(service, info).Pack()
	f.Add(b)
	q, _ := buildQuery(service).Pack()
	f.Add(q)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m dns.Msg
		if m.Unpack(b) != nil {
			return
		}
		pm := parseMessage(&m, service)
		for _, p := range pm.peers {
			if !p.HasAddr() {
				t.Fatal("peer without address")
			}
			resp := buildResponse(service, p)
			out, err := resp.Pack()
			if err != nil {
				if strings.Contains(err.Error(), "too long") || len(p.Direct) > 1000 {
					continue
				}
				t.Fatalf("pack: %v", err)
			}
			var back dns.Msg
			if err := back.Unpack(out); err != nil {
				t.Fatal(err)
			}
			again := parseMessage(&back, service)
			if len(again.peers) != 1 || !again.peers[0].Equal(p) {
				t.Fatalf("round trip\n got %+v\nwant %+v", again.peers, p)
			}
		}
	})
}
