package main

import (
	"context"
	"fmt"
	"slices"
	"time"
)

func init() {
	register(&command{name: "net-report", summary: "report public addresses, NAT behaviour and relay latencies (--relay URL)", run: runNetReport})
}

func runNetReport(ctx context.Context, env *cmdEnv, args []string) error {
	var ef endpointFlags
	fs := newFlagSet(env, "net-report", "--relay URL [--relay URL...] [--stun HOST:PORT...]")
	ef.register(fs, "")
	var stun stringList
	fs.Var(&stun, "stun", "extra STUN server HOST:PORT (repeatable)")
	stunPort := fs.Int("stun-port", 0, "STUN port of the relays (0: 3478)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError("net-report takes no arguments")
	}
	if len(ef.relays) == 0 && len(stun) == 0 {
		return usageError("net-report: give at least one --relay URL or --stun HOST:PORT")
	}
	o, err := ef.options(env, nil)
	if err != nil {
		return err
	}
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
	return nil
}
