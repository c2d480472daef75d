package relaytest_test

import (
	"net/http"
	"testing"

	"github.com/iroh-go/iroh/relay/relaytest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestURL(t *testing.T) {
	u := relaytest.URL(t)
	resp, err := http.Get(u + "ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %sping: %d", u, resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
}
