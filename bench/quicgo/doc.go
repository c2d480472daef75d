// Command quicgo is the raw quic-go baseline of 'iroh bench quic': the same
// two-process stream benchmark (a sender, and a receiver process it starts
// from its own binary, on 127.0.0.1) over plain quic-go on UDP sockets, with
// TLS 1.3 and self-signed Ed25519 certificates on both sides (the receiver's
// pinned by its SHA-256, passed to the sender with its address over the
// receiver's stdout), and the QUIC configuration iroh.Bind used on quic-go.
// It prints the same report as 'iroh bench quic' (impl "quic-go"), so
// scripts/bench-quic.sh can put the two side by side.
//
//	cd bench/quicgo && go build && ./quicgo --bytes 1073741824 --streams 4 --runs 3 [--json]
//
// It is a module of its own so that quic-go stays out of the requirements
// of github.com/iroh-go/iroh, and 'go test ./...' of that module skips it.
package main
