package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/iroh-go/iroh"
)

func init() {
	register(&command{
		name:    "net-report",
		summary: "report public addresses, NAT behaviour and relay latencies",
		usage:   "[--relay URL...] [--stun HOST:PORT...] [flags]",
		help: `Probe the relays (STUN and HTTPS latency) and print what they see: whether UDP
works, our public addresses, whether the NAT maps by destination, the latency to
each relay and the preferred one. Without --relay or --stun it probes n0's
public relays. Exits 1 when no probe succeeded.`,
		example: "iroh net-report --relay http://127.0.0.1:3340 --stun-port 3478",
		run:     runNetReport,
	})
}

func runNetReport(ctx context.Context, env *cmdEnv, args []string) error {
	var ef endpointFlags
	fs := newFlagSet(env, "net-report")
	fs.Var(&ef.relays, "relay", "relay URL to probe (repeatable). Default: n0's public relays")
	fs.StringVar(&ef.bind4, "bind4", "0.0.0.0:0", "IPv4 UDP address to bind (\"\" disables IPv4)")
	fs.StringVar(&ef.bind6, "bind6", "[::]:0", "IPv6 UDP address to bind (\"\" disables IPv6)")
	fs.BoolVar(&ef.verbose, "v", false, "debug logs on stderr")
	var stun stringList
	fs.Var(&stun, "stun", "extra STUN server HOST:PORT (repeatable)")
	stunPort := fs.Int("stun-port", 0, "STUN port of the relays (0: 3478)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("takes no arguments")
	}
	if len(stun) > 0 && len(ef.relays) == 0 {
		ef.relays = append(ef.relays, "none")
	}
	ef.offline = false
	o, err := ef.options(env, nil)
	if err != nil {
		return err
	}
	o.AddressLookup = iroh.AddressLookupOptions{}
	o.STUNServers = stun
	o.STUNPort = *stunPort
	ep, err := bindWith(ctx, o)
	if err != nil {
		return err
	}
	defer ep.Close(context.Background())
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rep, err := ep.NetReport(rctx)
	if err != nil {
		return err
	}
	w := env.stdout
	fmt.Fprintf(w, "udp ipv4: %v\nudp ipv6: %v\n", rep.UDPv4, rep.UDPv6)
	if rep.GlobalV4.IsValid() {
		fmt.Fprintf(w, "public ipv4: %s\n", rep.GlobalV4)
	}
	if rep.GlobalV6.IsValid() {
		fmt.Fprintf(w, "public ipv6: %s\n", rep.GlobalV6)
	}
	mv := func(b *bool) string {
		switch {
		case b == nil:
			return "unknown (needs two STUN servers)"
		case *b:
			return "yes (endpoint-dependent NAT: direct paths unlikely)"
		}
		return "no"
	}
	fmt.Fprintf(w, "mapping varies by destination (ipv4): %s\n", mv(rep.MappingVariesByDestIPv4))
	urls := make([]string, 0, len(rep.RelayLatency))
	for u := range rep.RelayLatency {
		urls = append(urls, string(u))
	}
	slices.Sort(urls)
	for _, u := range urls {
		fmt.Fprintf(w, "relay %s latency %s\n", u, rep.RelayLatency[RelayURL(u)].Round(10*time.Microsecond))
	}
	fmt.Fprintf(w, "preferred relay: %s\n", rep.PreferredRelay)
	for _, e := range rep.Errors {
		fmt.Fprintf(w, "probe failed: %s\n", e)
	}
	if !rep.UDPv4 && !rep.UDPv6 && len(rep.RelayLatency) == 0 {
		if len(rep.Errors) > 0 {
			return fmt.Errorf("no probe succeeded: %s", rep.Errors[0])
		}
		return errors.New("no probe succeeded")
	}
	return nil
}
