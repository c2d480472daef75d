package dnsserver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// DNSJSONType is the media type of the DNS-over-HTTPS JSON API.
const DNSJSONType = "application/dns-json"

// dohJSON is a response of the JSON API (the Google/Cloudflare format
// iroh-dns-server follows).
type dohJSON struct {
	Status     int           `json:"Status"`
	TC         bool          `json:"TC"`
	RD         bool          `json:"RD"`
	RA         bool          `json:"RA"`
	AD         bool          `json:"AD"`
	CD         bool          `json:"CD"`
	Question   []dohQuestion `json:"Question"`
	Answer     []dohRecord   `json:"Answer,omitempty"`
	Authority  []dohRecord   `json:"Authority,omitempty"`
	Additional []dohRecord   `json:"Additional,omitempty"`
}

type dohQuestion struct {
	Name string `json:"name"`
	Type uint16 `json:"type"`
}

type dohRecord struct {
	Name string `json:"name"`
	Type uint16 `json:"type"`
	TTL  uint32 `json:"TTL"`
	Data string `json:"data"`
}

func jsonRecords(rrs []dns.RR) []dohRecord {
	var out []dohRecord
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, dohRecord{Name: h.Name, Type: h.Rrtype, TTL: h.Ttl,
			Data: strings.TrimPrefix(rr.String(), h.String())})
	}
	return out
}

// handleDoHJSON serves GET /dns-query?name=N&type=T (type by number or
// mnemonic, default A; cd and do accepted).
func (s *Server) handleDoHJSON(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("name")
	if _, ok := dns.IsDomainName(name); !ok || len(name) > 253 {
		httpError(w, http.StatusBadRequest, "invalid name")
		return
	}
	qtype := dns.TypeA
	if t := q.Get("type"); t != "" {
		if n, err := strconv.ParseUint(t, 10, 16); err == nil {
			qtype = uint16(n)
		} else if v, ok := dns.StringToType[strings.ToUpper(t)]; ok {
			qtype = v
		} else {
			httpError(w, http.StatusBadRequest, "invalid type "+strconv.Quote(t))
			return
		}
	}
	flag := func(k string) bool { v := q.Get(k); return v == "1" || v == "true" }
	req := new(dns.Msg)
	req.SetQuestion(dns.Fqdn(name), qtype)
	req.CheckingDisabled = flag("cd")
	if flag("do") {
		req.SetEdns0(dns.DefaultMsgSize, true)
	}
	resp := s.answer(req)
	s.metrics.DNSQueries.WithLabelValues("https", rcodeLabel(resp.Rcode)).Inc()
	out := dohJSON{Status: resp.Rcode, TC: resp.Truncated, RD: resp.RecursionDesired, RA: resp.RecursionAvailable,
		AD: resp.AuthenticatedData, CD: resp.CheckingDisabled,
		Answer: jsonRecords(resp.Answer), Authority: jsonRecords(resp.Ns), Additional: jsonRecords(resp.Extra)}
	for _, qq := range resp.Question {
		out.Question = append(out.Question, dohQuestion{Name: qq.Name, Type: qq.Qtype})
	}
	w.Header().Set("Content-Type", DNSJSONType)
	if len(resp.Answer) > 0 {
		minTTL := resp.Answer[0].Header().Ttl
		for _, rr := range resp.Answer[1:] {
			minTTL = min(minTTL, rr.Header().Ttl)
		}
		w.Header().Set("Cache-Control", "s-maxage="+strconv.FormatUint(uint64(minTTL), 10))
	}
	json.NewEncoder(w).Encode(out)
}
