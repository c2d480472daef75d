// Package connlimit caps the connections a server's listener keeps open:
// in total and per client IP address. The relay and DNS servers wrap their
// TCP listeners with it, so that a flood of connections that never finish
// their HTTP request (half-open, slowloris) cannot exhaust memory or file
// descriptors: past a cap, a new connection is closed as soon as it is
// accepted, and counted.
//
// It does not time connections out; the HTTP server's header timeout
// does that. A connection counts until it is closed, also after it was
// hijacked for a WebSocket.
package connlimit
