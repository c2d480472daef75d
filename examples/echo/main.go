// Command echo is the smallest iroh-go program: two endpoints in one
// process, one serving an echo protocol through a Router, the other
// dialing it by its EndpointAddr and checking the echo.
//
//	go run ./examples/echo
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/iroh-go/iroh"
)

const alpn = "/iroh-go/echo/1"

// echo is a ProtocolHandler that echoes every bidirectional stream.
type echo struct{}

func (echo) Accept(ctx context.Context, conn *iroh.Connection) error {
	for {
		s, err := conn.AcceptStream(ctx)
		if err != nil {
			return nil // connection closed
		}
		go func() {
			io.Copy(s, s) // echo until the peer finishes its side
			s.Close()
		}()
	}
}

// run binds both endpoints with opts (nil: the defaults) and echoes once.
func run(ctx context.Context, out io.Writer, opts *iroh.Options) error {
	// The server: an endpoint with a router serving the echo protocol.
	server, err := iroh.Bind(ctx, opts)
	if err != nil {
		return err
	}
	router := iroh.NewRouter(server).Handle(alpn, echo{})
	if err := router.Start(); err != nil {
		return err
	}
	defer router.Shutdown(ctx)

	// The client: dial the server by its address (id + direct addresses).
	client, err := iroh.Bind(ctx, opts)
	if err != nil {
		return err
	}
	defer client.Close(ctx)
	conn, err := client.Connect(ctx, server.Addr(), alpn)
	if err != nil {
		return err
	}
	s, err := conn.OpenStream(ctx)
	if err != nil {
		return err
	}
	s.Write([]byte("hello, iroh"))
	s.Close() // finish our side; the echo ends when it has copied everything
	reply, err := io.ReadAll(s)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s echoed %q\n", conn.RemoteID().ShortString(), reply)
	conn.Close(0, "bye")
	return nil
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, nil); err != nil {
		log.SetFlags(0)
		log.Fatalf("echo: %v", err)
	}
}
