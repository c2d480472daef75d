// Command iroh is iroh-go's single binary: pipes and TCP forwarding between
// endpoints (pipe), keys and tickets (key, id, ticket), blob transfer (send,
// receive, blobs), the services (relay, dns-server, net-report) and
// benchmarks (bench quic).
//
// # Adding a command
//
// Each command lives in its own file and registers one *command in init
// with register: its name, a one-line summary for 'iroh help', the usage
// synopsis, a paragraph of help, an example, and its subcommands (each a
// *command with the same fields, and a run of its own or dispatched by the
// parent's run). Its flag set is made with newFlagSet(env, "CMD SUB"),
// which finds the entry by that path. 'iroh CMD -h', 'iroh CMD --help' and
// 'iroh help CMD' then all print the entry followed by the flags, and
// TestHelpEveryCommand checks every entry (usage, example, the same text
// three ways) through the built binary without any change.
//
// # Errors and exit codes
//
// main only calls run and turns its error into one line on stderr, "iroh
// CMD SUB: cause" (the dispatcher adds the command's name; commands return
// causes without it), and an exit code: 2 for bad usage (usageError), 1
// for everything else.
//
// # Network defaults
//
// Endpoint commands use n0's public relays and DNS address lookup unless
// --offline (none of n0's services), --relay, --pkarr-relay or --dns-* say
// otherwise; endpointFlags.options is the one place flags become
// iroh.Options. Tests run every command --offline with their own loopback
// services; a hook on that function fails the test binary if any command
// would reach elsewhere. 'iroh bench quic' is always offline: both of its
// processes bind 127.0.0.1 with no relay and no lookup.
package main
