// Package gateway serves iroh blobs and collections over HTTP, for browsers,
// curl and any client that speaks neither QUIC nor iroh, and serves the same
// store as an IPFS gateway.
//
// A Gateway is an http.Handler over a blobs.Store; a daemon can mount it, and
// cmd/iroh's "gateway" command runs it behind NewServer. Routes:
//
//   - GET/HEAD /blob/{hash}: a blob of the store.
//   - /collection/{hash}[/{path}]: a collection's listing (HTML, or JSON on
//     Accept: application/json), or one member by its name.
//   - /ticket/{ticket}[/{path}]: content named by a blob ticket, fetched on
//     demand from the ticket's provider when it is not in the store yet (only
//     from providers that Options.AllowProvider admits). Every chunk group is
//     verified (BLAKE3, blobs/bao) before one of its bytes is written to the
//     client, and kept in the store. A single range of a remote blob asks the
//     provider for the chunk groups that cover it only.
//   - /ipfs/{cid}[/{path}]: the IPFS path and trustless gateways, handled by
//     github.com/ipfs/boxo/gateway over a backend of ours (see IPFSBackend):
//     every blob is reachable as a CIDv1 with the raw codec and a BLAKE3
//     multihash; foreign blocks (sha2-256, dag-pb, dag-cbor...) enter through
//     ImportCAR, which verifies each block against its CID and keeps an index
//     from CID to blob. /ipns/{key} resolves through signed IPNS records
//     imported with ImportIPNSRecord (checked against the name when imported
//     and when used; no DHT); DNSLink names answer 501.
//
// The IPFS project's gateway-conformance suite (github.com/ipfs/gateway-conformance)
// passes its trustless-gateway and path-gateway specs in full. To run it from
// a checkout of that repository:
//
//	go build -o gwc ./cmd/gateway-conformance
//	./gwc extract-fixtures --directory fx --merged
//	iroh gateway import-car --data-dir store fx/fixtures.car
//	iroh gateway import-ipns --data-dir store fx/*.ipns-record  # one at a time: three are broken on purpose and refused
//	iroh gateway --addr 127.0.0.1:8080 --data-dir store &
//	GATEWAY_URL=http://127.0.0.1:8080 go test ./tests -specs=trustless-gateway,path-gateway -v
//
// Its module is not served by the Go module proxy, so CI cannot fetch and
// run it; TestUnixFS covers the same paths on a DAG built by boxo.
//
// Blob responses carry a strong ETag (the hash), Cache-Control immutable,
// Accept-Ranges; they honour Range (one or several ranges), If-Range and
// If-None-Match, set Content-Type from the name or by sniffing, and allow any
// origin (CORS). Data is copied from the store or the network through fixed
// buffers: memory does not grow with the size of a blob.
//
// # Bad input
//
// Malformed hashes, tickets, CIDs, paths and ranges get 400 with the reason in
// the body. Paths with empty, "." or ".." segments, backslashes or NUL bytes
// are refused rather than cleaned. A provider that sends data that does not
// verify is cut off at that chunk group: the client sees a broken transfer
// (the connection is aborted), never wrong bytes. Header size and slow
// clients are bounded by the http.Server of NewServer.
//
// # Concurrency
//
// A Gateway is safe for concurrent use; each request runs on its net/http
// goroutine. Remote fetches are bounded by Options.MaxRemoteFetches (503
// beyond). Close closes the pooled provider connections.
//
// # Observability
//
// Metrics (Options.Metrics, see NewMetrics): requests by route and status,
// bytes written, time to first byte, remote bytes fetched. Each request is
// logged at Debug (Info with Options.AccessLog) through Options.Logger.
package gateway
