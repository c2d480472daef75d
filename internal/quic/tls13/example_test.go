package tls13_test

import (
	"fmt"

	"github.com/iroh-go/iroh/internal/quic/tls13"
	"github.com/iroh-go/iroh/key"
)

// pump drains from's events, handing its handshake bytes to to, and
// returns how many secrets it installed.
func pump(from, to *tls13.Conn) (secrets int, err error) {
	for {
		ev := from.NextEvent()
		switch ev.Kind {
		case tls13.EventNone:
			return secrets, nil
		case tls13.EventWriteData:
			if err := to.HandleData(ev.Level, ev.Data); err != nil {
				return secrets, err
			}
		case tls13.EventSetReadSecret, tls13.EventSetWriteSecret:
			secrets++
		}
	}
}

// A client and a server handshake in memory; a QUIC core would put the
// WriteData bytes in CRYPTO frames and install the secrets.
func Example() {
	serverKey, clientKey := key.NewSecretKey(), key.NewSecretKey()
	server := tls13.Server(&tls13.Config{
		SecretKey:           serverKey,
		ALPNs:               []string{"echo/1"},
		TransportParameters: []byte{},
	})
	client := tls13.Client(&tls13.Config{
		SecretKey:           clientKey,
		ALPNs:               []string{"echo/2", "echo/1"},
		ServerName:          serverKey.Public().SNIName(),
		TransportParameters: []byte{},
	})
	if err := client.Start(); err != nil {
		panic(err)
	}
	total := 0
	for !client.HandshakeComplete() || !server.HandshakeComplete() {
		n, err := pump(client, server)
		if err != nil {
			panic(err)
		}
		m, err := pump(server, client)
		if err != nil {
			panic(err)
		}
		total += n + m
	}
	fmt.Println("alpn:", client.ALPN(), server.ALPN())
	fmt.Println("client knows the server:", client.PeerKey() == serverKey.Public())
	fmt.Println("server knows the client:", server.PeerKey() == clientKey.Public())
	fmt.Println("secrets installed:", total)
	fmt.Println("suite:", client.CipherSuite(), "group:", client.Group())
	// Output:
	// alpn: echo/1 echo/1
	// client knows the server: true
	// server knows the client: true
	// secrets installed: 8
	// suite: TLS_AES_256_GCM_SHA384 group: X25519MLKEM768
}
