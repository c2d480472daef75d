package preset

import (
	"errors"
	"fmt"
	"testing"

	"github.com/iroh-go/iroh/addrlookup/mdns"
	"github.com/iroh-go/iroh/key"
)

// TestMDNSUnavailableDegrades: on a machine without multicast, a preset
// asking for mDNS still starts (without local discovery), while a real
// configuration error still fails New.
func TestMDNSUnavailableDegrades(t *testing.T) {
	old := mdnsNew
	t.Cleanup(func() { mdnsNew = old })
	mdnsNew = func(key.PublicKey, *mdns.Options) (*mdns.Lookup, error) {
		return nil, fmt.Errorf("%w: no multicast socket: permission denied", mdns.ErrUnavailable)
	}
	s, err := New(key.NewSecretKey(), &Options{MDNS: true})
	if err != nil {
		t.Fatalf("New with mDNS unavailable: %v", err)
	}
	if s.mdns != nil {
		t.Fatal("mdns set although unavailable")
	}
	s.Close()

	mdnsNew = func(key.PublicKey, *mdns.Options) (*mdns.Lookup, error) {
		return nil, errors.New("mdns: interfaces [nope]: not all found")
	}
	if _, err := New(key.NewSecretKey(), &Options{MDNS: true}); err == nil {
		t.Fatal("a configuration error of mDNS did not fail New")
	}
}
