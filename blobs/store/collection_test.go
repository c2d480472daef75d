package store_test

import (
	"testing"

	"github.com/iroh-go/iroh/blobs/store"
)

// TestSafeName: collection names from the network cannot escape the
// output directory.
func TestSafeName(t *testing.T) {
	for name, ok := range map[string]bool{
		"a.txt": true, "dir/sub/b.bin": true, "photos/2024/x.jpg": true,
		"": false, "/etc/passwd": false, "../x": false, "a/../../x": false, "a/./b": false,
		"a//b": false, "a\\..\\b": false, "nul\x00": false, ".": false, "a/..": false,
	} {
		_, err := store.SafeName(name)
		if (err == nil) != ok {
			t.Errorf("SafeName(%q): err %v, want ok=%v", name, err, ok)
		}
	}
}
