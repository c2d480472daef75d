package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/gossip"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/ticket"
)

func init() {
	register(&command{
		name:    "gossip",
		summary: "topic swarms: chat over a gossip topic (chat)",
		usage:   "chat [flags] [TICKET...]",
		help: `Publish-subscribe over iroh-gossip topics (HyParView membership, PlumTree
broadcast), wire-compatible with iroh-gossip's /iroh-gossip/1.`,
		example: "iroh gossip chat --topic lobby",
		run:     runGossip,
		subs: []*command{{
			name:    "chat",
			summary: "join a topic, print a ticket, broadcast stdin lines, print what arrives",
			usage:   "[--topic NAME] [flags] [TICKET...]",
			help: `Join the topic (named by --topic, hashed to a topic id, or carried by a gossip
ticket), print a gossip ticket others can join with alone on a line of stderr,
broadcast each line of stdin and print each message that arrives on stdout as
"<sender short id>: <line>". Tickets (gossip or endpoint) name bootstrap peers.`,
			example: `iroh gossip chat --topic lobby
iroh gossip chat gossipabc...`,
		}},
	})
	ticketInspectors[gossip.TicketKind] = inspectGossipTicket
}

func inspectGossipTicket(w io.Writer, s string) error {
	t, err := gossip.ParseTicket(s)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "kind: gossip")
	fmt.Fprintf(w, "topic: %s\n", t.Topic)
	for _, p := range t.Peers {
		printAddr(w, p.ID.String(), p.RelayURLs, p.Direct)
	}
	return nil
}

const gossipUsage = "chat [--topic NAME] [TICKET...] [endpoint flags]"

func runGossip(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 || args[0] != "chat" {
		return usageError("gossip: want 'gossip %s'", gossipUsage)
	}
	fs := newFlagSet(env, "gossip chat")
	topicName := fs.String("topic", "", "topic name, hashed to the topic id (not needed with a gossip ticket)")
	var ef endpointFlags
	ef.register(fs, "")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	var topic gossip.TopicID
	haveTopic := false
	if *topicName != "" {
		topic, haveTopic = gossip.TopicFromName(*topicName), true
	}
	var boot []iroh.EndpointAddr
	for _, s := range pos {
		switch ticket.Kind(s) {
		case gossip.TicketKind:
			t, err := gossip.ParseTicket(s)
			if err != nil {
				return usageError("%v", err)
			}
			if haveTopic && t.Topic != topic {
				return usageError("ticket %s is for another topic than %s", short(s), topic)
			}
			topic, haveTopic = t.Topic, true
			boot = append(boot, t.Peers...)
		case ticket.EndpointKind:
			a, err := ticket.ParseEndpoint(s)
			if err != nil {
				return usageError("%v", err)
			}
			boot = append(boot, a)
		default:
			id, err := key.ParsePublicKey(s)
			if err != nil {
				return usageError("%q is neither a gossip or endpoint ticket nor an endpoint id", short(s))
			}
			boot = append(boot, iroh.EndpointAddr{ID: id})
		}
	}
	if !haveTopic {
		return usageError("gossip chat: give --topic NAME or a gossip ticket")
	}
	opts, err := ef.options(env, nil)
	if err != nil {
		return err
	}
	ep, err := bindWith(ctx, opts)
	if err != nil {
		return err
	}
	g, err := gossip.New(ep, &gossip.Options{Logger: opts.Logger})
	if err != nil {
		ep.Close(context.Background())
		return err
	}
	router := iroh.NewRouter(ep).Handle(gossip.ALPN, g).Handle(gossip.ALPN035, g)
	if err := router.Start(); err != nil {
		g.Close()
		ep.Close(context.Background())
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		router.Shutdown(sctx)
	}()
	return gossipChat(ctx, env, ep, g, topic, boot)
}

// Chat messages are signed by their author, so the printed sender cannot
// be forged by the neighbour that forwards them:
// author[32] | signature[64] | nonce[8] | text. The signature covers the
// topic, the nonce and the text; the nonce makes repeated lines distinct
// messages.
const chatHeaderLen = 32 + 64 + 8

func chatSigned(topic gossip.TopicID, nonce, text []byte) []byte {
	b := append([]byte("iroh-go gossip chat v1"), topic[:]...)
	b = append(b, nonce...)
	return append(b, text...)
}

func encodeChat(sk key.SecretKey, topic gossip.TopicID, text string) []byte {
	var nonce [8]byte
	rand.Read(nonce[:])
	sig := sk.Sign(chatSigned(topic, nonce[:], []byte(text)))
	pub := sk.Public()
	b := append(pub[:], sig[:]...)
	b = append(b, nonce[:]...)
	return append(b, text...)
}

func decodeChat(topic gossip.TopicID, b []byte) (key.PublicKey, string, error) {
	if len(b) < chatHeaderLen {
		return key.PublicKey{}, "", fmt.Errorf("chat message of %d bytes", len(b))
	}
	author := key.PublicKey(b[:32])
	if !ed25519.Verify(author.Ed25519(), chatSigned(topic, b[96:104], b[104:]), b[32:96]) {
		return author, "", errors.New("chat message: bad signature")
	}
	return author, string(b[104:]), nil
}

func gossipChat(ctx context.Context, env *cmdEnv, ep *iroh.Endpoint, g *gossip.Gossip, topic gossip.TopicID, boot []iroh.EndpointAddr) error {
	sub, err := g.Subscribe(ctx, topic, boot)
	if err != nil {
		return err
	}
	defer sub.Close()
	if ep.HomeRelay() != "" {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ep.Online(wctx)
		cancel()
	}
	fmt.Fprintln(env.stderr, gossip.Ticket{Topic: topic, Peers: []iroh.EndpointAddr{ep.Addr()}})
	if len(boot) == 0 {
		fmt.Fprintln(env.stderr, "waiting for peers to join")
	}

	// Lines from stdin, broadcast once we have a neighbour.
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(env.stdin)
		sc.Buffer(make([]byte, 0, 4096), g.MaxContentLen())
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	joined := make(chan error, 1)
	go func() { joined <- sub.Joined(ctx) }()
	var pending []string
	isJoined := false
	sk := ep.SecretKey()
	send := func(text string) error {
		err := sub.Broadcast(ctx, encodeChat(sk, topic, text))
		var tl *gossip.MessageTooLargeError
		if errors.As(err, &tl) {
			fmt.Fprintf(env.stderr, "line too long (%d bytes, at most %d): not sent\n", len(text), g.MaxContentLen()-chatHeaderLen)
			return nil
		}
		return err
	}
	lineCh := lines
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-joined:
			if err != nil {
				return ctxOr(ctx, err)
			}
			isJoined = true
			for _, l := range pending {
				if err := send(l); err != nil {
					return ctxOr(ctx, err)
				}
			}
			pending = nil
		case l, ok := <-lineCh:
			if !ok {
				lineCh = nil // stdin ended: keep printing until interrupted
				continue
			}
			if strings.TrimSpace(l) == "" {
				continue
			}
			if !isJoined {
				pending = append(pending, l)
				continue
			}
			if err := send(l); err != nil {
				return ctxOr(ctx, err)
			}
		case ev, ok := <-sub.Events():
			if !ok {
				return ctxOr(ctx, gossip.ErrClosed)
			}
			switch ev := ev.(type) {
			case gossip.Received:
				author, text, err := decodeChat(topic, ev.Content)
				if err != nil {
					fmt.Fprintf(env.stderr, "dropped message from %s: %v\n", ev.DeliveredFrom.ShortString(), err)
					continue
				}
				fmt.Fprintf(env.stdout, "%s: %s\n", author.ShortString(), text)
			case gossip.NeighborUp:
				fmt.Fprintf(env.stderr, "neighbor up: %s\n", ev.ID.ShortString())
			case gossip.NeighborDown:
				fmt.Fprintf(env.stderr, "neighbor down: %s\n", ev.ID.ShortString())
			case gossip.DialFailed:
				fmt.Fprintf(env.stderr, "dial %s failed: %v\n", ev.ID.ShortString(), ev.Err)
			case gossip.Lagged:
				fmt.Fprintf(env.stderr, "missed %d events (too slow)\n", ev.Missed)
			}
		}
	}
}
