package dnsserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzParseConfig: an operator's TOML file. No panic; a file that parses
// either yields Options or a clear error from Options.
func FuzzParseConfig(f *testing.F) {
	f.Add("data_dir = \"/tmp/x\"\npkarr_put_rate_limit = \"smart\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n[http]\nport = 8080\n[dns]\nport = 5300\norigins = [\"irohdns.example.\", \".\"]\nrr_a = \"192.0.2.1\"\n")
	f.Add("[metrics]\ndisabled = true\n")
	f.Add("[dns]\norigins = [\"no-dot\"]\n")
	f.Add("")
	f.Add("x = 1")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseConfig(text)
		if err != nil {
			return
		}
		c.Options()
	})
}

// FuzzDoHJSON drives the DoH JSON endpoint (GET /dns-query?name=&type=)
// with arbitrary query values: no panic, a 200 answer is valid JSON, a bad
// name or type is a 400.
func FuzzDoHJSON(f *testing.F) {
	s, sk := fuzzServer(f)
	f.Add("_iroh."+sk.Public().Z32()+".irohdns.example.", "TXT", "1", "")
	f.Add("irohdns.example", "6", "", "true")
	f.Add("", "", "", "")
	f.Add("x..y", "BOGUS", "0", "1")
	f.Fuzz(func(t *testing.T, name, typ, cd, do string) {
		q := url.Values{"name": {name}, "type": {typ}, "cd": {cd}, "do": {do}}
		req := httptest.NewRequest(http.MethodGet, "/dns-query?"+q.Encode(), nil)
		rec := httptest.NewRecorder()
		s.handleDoHJSON(rec, req)
		switch rec.Code {
		case http.StatusOK:
			var v dohJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatalf("200 with a body that is not JSON: %v", err)
			}
		case http.StatusBadRequest:
		default:
			t.Fatalf("status %d", rec.Code)
		}
	})
}
