package iroh

import (
	"log/slog"

	"github.com/iroh-go/iroh/internal/magicsock"
)

// relayState holds the endpoint's relay configuration.
type relayState struct {
	log    *slog.Logger
	home   RelayURL
	relays []RelayURL
}

func newRelayState(o *Options, log *slog.Logger) (*relayState, error) {
	rs := &relayState{log: log, relays: o.Relays}
	if len(o.Relays) > 0 {
		rs.home = o.Relays[0]
	}
	return rs, nil
}

// configure fills the socket options with the relay dialer.
func (rs *relayState) configure(o *magicsock.Options, sk SecretKey) {}

func (rs *relayState) close() {}
