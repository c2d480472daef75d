package blobs

import (
	"context"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/endpointaddr"
)

var _ iroh.ProtocolHandler = (*Provider)(nil)

// Accept implements iroh.ProtocolHandler: it serves the request streams of
// conn until the connection closes. Register it with
// router.Handle(blobs.ALPN, provider).
func (p *Provider) Accept(ctx context.Context, conn *iroh.Connection) error {
	defer conn.Close(0, "")
	return p.ServeConn(ctx, conn)
}

// EndpointDialer returns a DialFunc that connects with ep using ALPN.
func EndpointDialer(ep *iroh.Endpoint) DialFunc {
	return func(ctx context.Context, addr endpointaddr.Addr) (Conn, error) {
		c, err := ep.Connect(ctx, addr, ALPN)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}
