// Package transport runs internal/quic connection cores on sockets: a
// Transport owns one Socket; Dial and Accept give a Conn with streams
// (Stream: io.Reader, io.Writer, io.Closer, CloseRead and CancelWrite with
// codes, deadlines) and datagrams, blocking calls that take a context,
// and errors a caller can branch on: *quic.ApplicationError (Code,
// Reason, Remote), *quic.TransportError, *quic.IdleTimeoutError,
// *quic.StatelessResetError, *quic.StreamResetError, and
// errors.Is(err, net.ErrClosed) after a local Close.
//
// # Concurrency
//
// One goroutine per socket reads batches of datagrams (GRO on Linux),
// finds each one's connection by destination connection id and processes
// it inline under that connection's lock; the packets a connection then
// has to send go out from the same goroutine, once per batch, as GSO runs
// of up to 64 segments. Application calls (Write, Close, ...) take the
// connection's lock, update the core and send inline too. Each GSO run is
// built under the lock and written with it released, by one goroutine at
// a time (a caller that finds a flush under way leaves its packets to
// it), so packets leave in packet-number order and stream goroutines do
// not queue behind system calls. Timers (loss
// detection, acknowledgements, pacing, idle) are one time.Timer per
// connection. There is no goroutine per packet or per stream, and no
// per-packet allocation in steady state. Lock order: Conn.mu before
// Transport.mu.
//
// # Without a connection
//
// A packet for an unknown id gets a stateless reset (short header, at
// most 100 replies a second, always shorter than the packet) or, for an
// unknown version, Version Negotiation; an unroutable datagram is checked
// against the peers' reset tokens. With quic.Config.RequireRetry a server
// answers tokenless Initials with a Retry and keeps no state until the
// client returns the token.
//
// The socket is behind the Socket interface (read a batch, write a batch)
// so magicsock's transports can carry the packets later; UDPSocket uses
// GSO and GRO on Linux.
package transport
