// Command gossip-chat is a chat room on a gossip topic: three endpoints
// in one process join the topic "gossip-chat example", each through the
// previous one, and every message one of them broadcasts reaches the
// others.
//
//	go run ./examples/gossip-chat
//
// For a chat between machines, see `iroh gossip chat`.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/gossip"
)

type member struct {
	name   string
	ep     *iroh.Endpoint
	router *iroh.Router
	topic  *gossip.Topic
}

// join binds an endpoint serving gossip and subscribes to topic through
// the bootstrap addresses.
func join(ctx context.Context, name string, opts *iroh.Options, topic gossip.TopicID, bootstrap []iroh.EndpointAddr) (*member, error) {
	ep, err := iroh.Bind(ctx, opts)
	if err != nil {
		return nil, err
	}
	g, err := gossip.New(ep, nil)
	if err != nil {
		ep.Close(ctx)
		return nil, err
	}
	router := iroh.NewRouter(ep).Handle(gossip.ALPN, g).Handle(gossip.ALPN035, g)
	if err := router.Start(); err != nil {
		g.Close()
		ep.Close(ctx)
		return nil, err
	}
	t, err := g.Subscribe(ctx, topic, bootstrap)
	if err != nil {
		router.Shutdown(ctx)
		return nil, err
	}
	return &member{name: name, ep: ep, router: router, topic: t}, nil
}

// run starts the room, has each member say hello, and prints what each
// one hears on out.
func run(ctx context.Context, out io.Writer, opts *iroh.Options) error {
	topic := gossip.TopicFromName("gossip-chat example")
	var members []*member
	defer func() {
		for _, m := range members {
			m.router.Shutdown(context.Background())
		}
	}()
	for _, name := range []string{"alice", "bob", "carol"} {
		var boot []iroh.EndpointAddr
		if len(members) > 0 {
			boot = []iroh.EndpointAddr{members[len(members)-1].ep.Addr()}
		}
		m, err := join(ctx, name, opts, topic, boot)
		if err != nil {
			return err
		}
		members = append(members, m)
	}
	// Joined says a member has a neighbour. A broadcast only travels the
	// links that exist when it is sent, so wait until each newcomer and
	// the member it joined through list each other.
	for i, m := range members[1:] {
		if err := m.topic.Joined(ctx); err != nil {
			return err
		}
		if err := waitNeighbor(ctx, members[i].topic, m.ep.ID()); err != nil {
			return err
		}
		if err := waitNeighbor(ctx, m.topic, members[i].ep.ID()); err != nil {
			return err
		}
	}
	// Each says hello; each must hear the two others.
	for _, m := range members {
		if err := m.topic.Broadcast(ctx, []byte(m.name+": hello, room")); err != nil {
			return err
		}
	}
	for _, m := range members {
		heard := 0
		for heard < len(members)-1 {
			select {
			case ev := <-m.topic.Events():
				if r, ok := ev.(gossip.Received); ok {
					fmt.Fprintf(out, "%s heard %q\n", m.name, r.Content)
					heard++
				}
			case <-ctx.Done():
				return fmt.Errorf("%s heard %d messages: %w", m.name, heard, ctx.Err())
			}
		}
	}
	return nil
}

// waitNeighbor polls t's neighbours until id is among them.
func waitNeighbor(ctx context.Context, t *gossip.Topic, id iroh.EndpointID) error {
	for !slices.Contains(t.Neighbors(), id) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for neighbour %s: %w", id.ShortString(), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, nil); err != nil {
		log.Fatal(err)
	}
}
