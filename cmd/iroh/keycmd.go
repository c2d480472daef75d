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
	register(&command{
		name:    "key",
		summary: "make secret keys (key generate)",
		usage:   "generate [--out FILE]",
		help:    "An endpoint's identity is an Ed25519 secret key; its public key is the endpoint id.",
		example: "iroh key generate --out my.key",
		subs: []*command{{
			name:    "generate",
			summary: "print a new secret key (hex), or write it to --out FILE (mode 0600, never overwritten)",
			usage:   "[--out FILE]",
			help: `Make a new secret key. Without --out it is printed on stdout (and its endpoint id on
stderr); with --out it is written to a new file and the endpoint id printed. Pass the
file to other commands with --key FILE, or its contents as $IROH_SECRET.`,
			example: "iroh key generate --out my.key && iroh pipe listen --key my.key",
			run:     runKeyGenerate,
		}},
	})
	register(&command{
		name:    "id",
		summary: "print the endpoint id of a key (--key FILE or $IROH_SECRET)",
		usage:   "[--key FILE]",
		help:    "Print the endpoint id (public key) of an existing secret key; it never makes a key.",
		example: "iroh id --key my.key",
		run:     runID,
	})
	register(&command{
		name:    "ticket",
		summary: "show what a ticket holds (ticket inspect TICKET)",
		usage:   "inspect TICKET",
		help:    "Tickets carry an endpoint's id and addresses (endpoint tickets) and, for blob tickets, a hash and format.",
		example: "iroh ticket inspect endpointabc...",
		subs: []*command{{
			name:    "inspect",
			summary: "print the kind, endpoint id, relays, direct addresses (and hash) of a ticket",
			usage:   "TICKET",
			help:    "Decode an endpoint or blob ticket and print what it holds, one field a line.",
			example: "iroh ticket inspect blobabc...",
			run:     runTicketInspect,
		}},
	})
}

func runKeyGenerate(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet(env, "key generate")
	out := fs.String("out", "", "write the key to FILE (mode 0600; an existing file is never overwritten) instead of stdout")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("takes no arguments")
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
	fs := newFlagSet(env, "id")
	keyFile := fs.String("key", "", "secret key file (default: $IROH_SECRET)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("takes no arguments")
	}
	ef := endpointFlags{keyFile: *keyFile}
	if *keyFile == "" && env.getenv("IROH_SECRET") == "" {
		return usageError("give --key FILE or set IROH_SECRET")
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

func runTicketInspect(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet(env, "ticket inspect")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("want one TICKET, got %d arguments", len(pos))
	}
	s := pos[0]
	kind := ticket.Kind(s)
	switch {
	case kind == ticket.EndpointKind:
		a, err := ticket.ParseEndpoint(s)
		if err != nil {
			return usageError("%v", err)
		}
		fmt.Fprintln(env.stdout, "kind: endpoint")
		printAddr(env.stdout, a.ID.String(), a.RelayURLs, a.Direct)
		return nil
	case ticketInspectors[kind] != nil:
		return ticketInspectors[kind](env.stdout, s)
	case kind == "":
		return usageError("%q does not start with a known ticket kind (endpoint, blob, doc)", short(s))
	default:
		return fmt.Errorf("%s tickets are not supported by this build", kind)
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
