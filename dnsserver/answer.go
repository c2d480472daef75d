package dnsserver

import (
	"errors"
	"strings"

	"github.com/iroh-go/iroh/key"
	"github.com/miekg/dns"
)

// answer builds the response to one DNS query. It never returns nil.
func (s *Server) answer(req *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	if req.Response || len(req.Question) != 1 {
		resp.SetRcodeFormatError(req)
		return resp
	}
	if req.Opcode != dns.OpcodeQuery {
		resp.SetRcode(req, dns.RcodeNotImplemented)
		return resp
	}
	resp.SetReply(req)
	resp.RecursionAvailable = false
	if o := req.IsEdns0(); o != nil {
		resp.SetEdns0(max(o.UDPSize(), dns.MinMsgSize), false)
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	qname := strings.ToLower(dns.CanonicalName(q.Name))
	z := s.zoneFor(qname)
	if z == nil {
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	resp.Authoritative = true
	if qname == z.origin {
		s.answerApex(resp, z, q.Qtype)
		return resp
	}
	// The label directly left of the origin must be a key.
	rel := strings.TrimSuffix(qname, z.origin)
	if z.origin == "." {
		rel = qname
	}
	rel = strings.TrimSuffix(rel, ".")
	labels := strings.Split(rel, ".")
	k, err := key.ParseZ32(labels[len(labels)-1])
	if err != nil {
		s.nxdomain(resp, z)
		return resp
	}
	p, err := s.store.get(k)
	if errors.Is(err, errNotFound) {
		s.nxdomain(resp, z)
		return resp
	}
	if err != nil {
		s.log.Warn("dns store lookup failed", "endpoint_id", k.ShortString(), "err", err)
		resp.Rcode = dns.RcodeRefused
		resp.Authoritative = false
		return resp
	}
	var m dns.Msg
	if err := m.Unpack(p.DNS); err != nil { // verified packets parse; be safe anyway
		resp.Rcode = dns.RcodeServerFailure
		return resp
	}
	z32 := k.Z32()
	exists := false
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			t := h.Rrtype
			if t == dns.TypeSOA || t == dns.TypeNS || t == dns.TypeOPT {
				continue
			}
			name := strings.ToLower(dns.CanonicalName(h.Name))
			if !lastLabelIs(name, z32) {
				continue
			}
			full := name
			if z.origin != "." {
				full = name + z.origin
			}
			if full != qname {
				if strings.HasSuffix(full, "."+qname) {
					exists = true // qname is an empty non-terminal
				}
				continue
			}
			exists = true
			if t == q.Qtype || q.Qtype == dns.TypeANY || t == dns.TypeCNAME {
				c := dns.Copy(rr)
				c.Header().Name = qname
				resp.Answer = append(resp.Answer, c)
			}
		}
	}
	if !exists {
		s.nxdomain(resp, z)
		return resp
	}
	if len(resp.Answer) == 0 {
		resp.Ns = append(resp.Ns, dns.Copy(z.soa))
	}
	return resp
}

// lastLabelIs reports whether the absolute name's last label is label.
func lastLabelIs(name, label string) bool {
	name = strings.TrimSuffix(name, ".")
	i := strings.LastIndexByte(name, '.')
	return name[i+1:] == label
}

func (s *Server) nxdomain(resp *dns.Msg, z *zone) {
	resp.Rcode = dns.RcodeNameError
	resp.Ns = append(resp.Ns, dns.Copy(z.soa))
}

// answerApex answers a query for an origin itself from the static zone.
func (s *Server) answerApex(resp *dns.Msg, z *zone, qt uint16) {
	all := qt == dns.TypeANY
	if qt == dns.TypeSOA || all {
		resp.Answer = append(resp.Answer, dns.Copy(z.soa))
	}
	if qt == dns.TypeNS || all {
		for _, rr := range z.ns {
			resp.Answer = append(resp.Answer, dns.Copy(rr))
		}
	}
	for _, rr := range z.addrs {
		if rr.Header().Rrtype == qt || all {
			resp.Answer = append(resp.Answer, dns.Copy(rr))
		}
	}
	if len(resp.Answer) == 0 {
		resp.Ns = append(resp.Ns, dns.Copy(z.soa))
	}
}

// zoneFor returns the most specific origin containing qname, or nil.
func (s *Server) zoneFor(qname string) *zone {
	var best *zone
	for i := range s.zones {
		z := &s.zones[i]
		if dns.IsSubDomain(z.origin, qname) && (best == nil || len(z.origin) > len(best.origin)) {
			best = z
		}
	}
	return best
}

// rcodeLabel maps a response code to its metrics label.
func rcodeLabel(rc int) string {
	switch rc {
	case dns.RcodeSuccess:
		return "noerror"
	case dns.RcodeNameError:
		return "nxdomain"
	case dns.RcodeRefused:
		return "refused"
	case dns.RcodeFormatError:
		return "formerr"
	case dns.RcodeNotImplemented:
		return "notimp"
	}
	return "servfail"
}
