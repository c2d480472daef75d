// Package transport runs internal/quic connection cores on sockets: Dial
// and Listen return a Conn with streams and datagrams, blocking calls that
// take a context, and errors a caller can branch on.
//
// # Concurrency
//
// One goroutine per socket reads batches of datagrams, finds each one's
// connection by destination connection id and processes it inline under
// that connection's lock; the packets a connection has to send then go
// out from the same goroutine. Application calls (Write, Close, ...) take
// the connection's lock, update the core and send inline too. Timers
// (loss detection, acknowledgements, idle) are one time.Timer per
// connection. There is no goroutine per packet or per stream.
//
// The socket is behind the Socket interface (read a batch, write a batch)
// so magicsock's transports can carry the packets later; UDPSocket uses
// GSO and GRO on Linux.
package transport
