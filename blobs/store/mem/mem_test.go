package mem_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store/mem"
	"github.com/iroh-go/iroh/blobs/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) blobs.Store {
		s := mem.New()
		t.Cleanup(func() { s.Close() })
		return s
	})
}
