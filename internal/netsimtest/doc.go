// Package netsimtest holds the end-to-end tests of NAT traversal: real
// `iroh` processes (relay, listener, connector) in the network namespaces
// of shared/netsim, behind real kernel NATs, asserting the path each
// connection takes (relay, then direct through a hole punch; relay only
// behind symmetric NATs) and that no byte is lost while it changes, while
// the relay dies, and while it restarts. The tests need root, ip and nft;
// they skip with the reason elsewhere and in -short mode.
package netsimtest
