package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/ticket"
)

func init() {
	register(&command{name: "key", summary: "generate a secret key (key generate [--out FILE])", run: runKey})
	register(&command{name: "id", summary: "print the endpoint id of a key (--key FILE or $IROH_SECRET)", run: runID})
	register(&command{name: "ticket", summary: "show what a ticket holds (ticket inspect TICKET)", run: runTicket})
}

func runKey(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 || args[0] != "generate" {
		return usageError("key: want 'key generate [--out FILE]'")
	}
	fs := newFlagSet(env, "key generate", "[--out FILE]")
	out := fs.String("out", "", "write the key to FILE (mode 0600) instead of stdout")
	pos, err := parseFlags(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("key generate takes no arguments")
	}
	sk := key.NewSecretKey()
	if *out == "" {
		fmt.Fprintln(env.stdout, sk.HexString())
		fmt.Fprintf(env.stderr, "endpoint id: %s\n", sk.Public())
		return nil
	}
	if err := writeKeyFile(*out, sk); err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, sk.Public())
	return nil
}

func runID(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet(env, "id", "[--key FILE]")
	keyFile := fs.String("key", "", "secret key file (default: $IROH_SECRET)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("id takes no arguments")
	}
	ef := endpointFlags{keyFile: *keyFile}
	if *keyFile == "" && env.getenv("IROH_SECRET") == "" {
		return usageError("id: give --key FILE or set IROH_SECRET")
	}
	sk, err := ef.secretKey(env, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, sk.Public())
	return nil
}

// ticketInspectors print the contents of tickets of other kinds than
// endpoint tickets, by kind prefix.
var ticketInspectors = map[string]func(w io.Writer, s string) error{
	blobs.TicketKind: inspectBlobTicket,
}

func inspectBlobTicket(w io.Writer, s string) error {
	t, err := blobs.ParseBlobTicket(s)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "kind: blob")
	fmt.Fprintf(w, "hash: %s\nformat: %s\n", t.Hash, t.Format)
	printAddr(w, t.Addr.ID.String(), t.Addr.RelayURLs, t.Addr.Direct)
	return nil
}

func runTicket(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) != 2 || args[0] != "inspect" {
		return usageError("ticket: want 'ticket inspect TICKET'")
	}
	s := args[1]
	kind := ticket.Kind(s)
	switch {
	case kind == ticket.EndpointKind:
		a, err := ticket.ParseEndpoint(s)
		if err != nil {
			return err
		}
		fmt.Fprintln(env.stdout, "kind: endpoint")
		printAddr(env.stdout, a.ID.String(), a.RelayURLs, a.Direct)
		return nil
	case ticketInspectors[kind] != nil:
		return ticketInspectors[kind](env.stdout, s)
	case kind == "":
		return usageError("ticket: %q does not start with a known ticket kind (endpoint, blob, doc)", short(s))
	default:
		return fmt.Errorf("ticket: %s tickets are not supported by this build", kind)
	}
}

func printAddr[R, D fmt.Stringer](w io.Writer, id string, relays []R, direct []D) {
	fmt.Fprintf(w, "endpoint id: %s\n", id)
	for _, r := range relays {
		fmt.Fprintf(w, "relay: %s\n", r)
	}
	for _, d := range direct {
		fmt.Fprintf(w, "direct: %s\n", d)
	}
}
