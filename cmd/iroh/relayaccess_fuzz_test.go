package main

import (
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzRelayAccessConfig: the access part of an operator's relay config
// file. No panic; what is accepted yields an access function.
func FuzzRelayAccessConfig(f *testing.F) {
	f.Add(`access = "everyone"`)
	f.Add("[access]\nallowlist = [\"" + "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29" + "\"]\n")
	f.Add("[access]\ndenylist = []\n")
	f.Add("[access]\nshared_token = [\"a\", \"b\"]\n")
	f.Add("[access.http]\nurl = \"http://127.0.0.1:1/check\"\nbearer_token = \"t\"\n")
	f.Add("[access]\nallowlist = 3\nhttp = 4\n")
	f.Fuzz(func(t *testing.T, text string) {
		// An access section is short. Parsing at most 256 bytes keeps the
		// fuzzer from growing inputs of many KB (new loop-count coverage in
		// the TOML decoder) that took up to a minute each to minimize in
		// this large test binary (488 execs/s over a CPU-minute).
		text = text[:min(len(text), 256)]
		var m map[string]any
		if _, err := toml.Decode(text, &m); err != nil {
			return
		}
		fn, err := relayAccessFromConfig(m["access"], func(string) string { return "" })
		if err == nil && fn == nil {
			t.Fatal("accepted access config without an access function")
		}
	})
}
