package mdns

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/iroh-go/iroh/addrlookup"
	"github.com/iroh-go/iroh/endpointaddr"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/pkarr"
	"github.com/miekg/dns"
)

// ServiceName is iroh's mDNS service name (records under
// `_irohv1._udp.local.`).
const ServiceName = "irohv1"

// TXT attribute keys, as iroh's mdns lookup sets them.
const (
	attrRelay    = "relay"
	attrUserData = "user-data"
)

// maxTXTString is the DNS character-string limit; longer attributes are
// not advertised (iroh drops a relay URL over 249 bytes).
const maxTXTString = 255

// serviceFQDN returns `_<name>._udp.local.`.
func serviceFQDN(name string) string { return "_" + name + "._udp.local." }

// instanceName is the instance label of an endpoint: lowercase base32.
func instanceName(id key.PublicKey) string { return id.Base32() }

// buildQuery returns the PTR query for the service.
func buildQuery(service string) *dns.Msg {
	m := new(dns.Msg)
	m.Id = 0
	m.Question = []dns.Question{{Name: service, Qtype: dns.TypePTR, Qclass: dns.ClassINET}}
	return m
}

// buildResponse returns the announcement of info, or nil if info has no
// direct address (swarm-discovery peers ignore announcements without one).
func buildResponse(service string, info addrlookup.EndpointInfo) *dns.Msg {
	if len(info.Direct) == 0 {
		return nil
	}
	inst := instanceName(info.ID)
	owner := inst + "." + service
	m := new(dns.Msg)
	m.Response = true
	m.Authoritative = true
	byPort := map[uint16][]netip.Addr{}
	var ports []uint16
	for _, ap := range info.Direct {
		if _, ok := byPort[ap.Port()]; !ok {
			ports = append(ports, ap.Port())
		}
		a := ap.Addr().Unmap().WithZone("")
		if !slices.Contains(byPort[ap.Port()], a) {
			byPort[ap.Port()] = append(byPort[ap.Port()], a)
		}
	}
	slices.Sort(ports)
	for _, port := range ports {
		target := inst + "-" + strconv.Itoa(int(port)) + ".local."
		m.Answer = append(m.Answer, &dns.SRV{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeSRV, Class: dns.ClassINET},
			Port: port, Target: target})
		for _, a := range byPort[port] {
			if a.Is4() {
				m.Extra = append(m.Extra, &dns.A{Hdr: dns.RR_Header{Name: target, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: a.AsSlice()})
			} else {
				m.Extra = append(m.Extra, &dns.AAAA{Hdr: dns.RR_Header{Name: target, Rrtype: dns.TypeAAAA, Class: dns.ClassINET}, AAAA: a.AsSlice()})
			}
		}
	}
	var txt []string
	if len(info.RelayURLs) > 0 {
		if s := attrRelay + "=" + info.RelayURLs[0].String(); len(s) <= maxTXTString {
			txt = append(txt, pkarr.EscapeTXT(s))
		}
	}
	if info.UserData != "" {
		if s := attrUserData + "=" + info.UserData; len(s) <= maxTXTString {
			txt = append(txt, pkarr.EscapeTXT(s))
		}
	}
	if len(txt) > 0 {
		m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: txt})
	}
	return m
}

// message is what one received packet says.
type message struct {
	query bool                      // it asks for our service
	peers []addrlookup.EndpointInfo // announced endpoints with at least one address
}

// parseMessage interprets a packet as swarm-discovery does: a packet with
// a PTR question for the service is a query; otherwise SRV and TXT answers
// under the service name and A/AAAA additionals under `local.` make up
// the announced endpoints. Instances whose name is not an EndpointID are
// skipped.
func parseMessage(m *dns.Msg, service string) message {
	for _, q := range m.Question {
		if q.Qclass&0x7fff == dns.ClassINET && q.Qtype == dns.TypePTR && strings.EqualFold(dns.CanonicalName(q.Name), service) {
			return message{query: true}
		}
	}
	type srvTarget struct {
		port uint16
		inst string
	}
	targets := map[string][]srvTarget{}
	txts := map[string][]string{}
	var order []string
	for _, rr := range m.Answer {
		h := rr.Header()
		if h.Class&0x7fff != dns.ClassINET {
			continue
		}
		name := strings.ToLower(dns.CanonicalName(h.Name))
		inst, rest, ok := strings.Cut(name, ".")
		if !ok || rest != service || inst == "" {
			continue
		}
		switch r := rr.(type) {
		case *dns.SRV:
			t := strings.ToLower(dns.CanonicalName(r.Target))
			targets[t] = append(targets[t], srvTarget{r.Port, inst})
		case *dns.TXT:
			txts[inst] = append(txts[inst], r.Txt...)
		}
	}
	addrs := map[string][]netip.AddrPort{}
	for _, rr := range m.Extra {
		h := rr.Header()
		if h.Class&0x7fff != dns.ClassINET {
			continue
		}
		name := strings.ToLower(dns.CanonicalName(h.Name))
		if _, rest, ok := strings.Cut(name, "."); !ok || rest != "local." {
			continue
		}
		var ip netip.Addr
		switch r := rr.(type) {
		case *dns.A:
			ip, _ = netip.AddrFromSlice(r.A.To4())
		case *dns.AAAA:
			ip, _ = netip.AddrFromSlice(r.AAAA.To16())
		default:
			continue
		}
		if !ip.IsValid() {
			continue
		}
		for _, t := range targets[name] {
			ap := netip.AddrPortFrom(ip.Unmap(), t.port)
			if _, seen := addrs[t.inst]; !seen {
				order = append(order, t.inst)
			}
			if !slices.Contains(addrs[t.inst], ap) {
				addrs[t.inst] = append(addrs[t.inst], ap)
			}
		}
	}
	var out message
	for _, inst := range order {
		id, err := key.ParsePublicKey(inst)
		if err != nil {
			continue
		}
		info := addrlookup.EndpointInfo{ID: id, Direct: addrs[inst]}
		slices.SortFunc(info.Direct, endpointaddr.CompareSocketAddr)
		for _, s := range txts[inst] {
			k, v, _ := strings.Cut(pkarr.UnescapeTXT(s), "=")
			switch k {
			case attrRelay:
				if u, err := endpointaddr.ParseRelayURL(v); err == nil && len(info.RelayURLs) == 0 {
					info.RelayURLs = []endpointaddr.RelayURL{u}
				}
			case attrUserData:
				if info.UserData == "" {
					info.UserData = v
				}
			}
		}
		out.peers = append(out.peers, info)
	}
	return out
}
