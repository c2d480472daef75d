package relayserver

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/iroh-go/iroh/key"
	"github.com/iroh-go/iroh/relay"
)

// ClientRequest is what access control sees of an authenticated client
// (core.md §5.9).
type ClientRequest struct {
	// ConnID numbers connections in this process, from 1.
	ConnID uint64
	// EndpointID is the authenticated key of the client.
	EndpointID key.PublicKey
	// Protocol is the negotiated subprotocol (relay.ProtocolV2 or V1).
	Protocol string
	// Request is the upgrade request (URL with query, headers). Its body
	// must not be read.
	Request *http.Request
}

// AuthToken returns the client's token: the first "Authorization: Bearer"
// header (scheme case-insensitive), else the "token" query parameter, else "".
func (r *ClientRequest) AuthToken() string {
	for _, v := range r.Request.Header.Values("Authorization") {
		scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " ")
		if ok && strings.EqualFold(scheme, "bearer") {
			return strings.TrimSpace(tok)
		}
	}
	return r.Request.URL.Query().Get("token")
}

// AccessFunc decides whether an authenticated client may use the relay. It
// runs on the client's connection goroutine during the handshake (bounded by
// the establish timeout through ctx) and may block. On deny, reason is sent
// in ServerDeniesAuth ("" means "not authorized").
type AccessFunc func(ctx context.Context, req *ClientRequest) (allow bool, reason string)

// AllowAll lets everyone in (the default).
func AllowAll() AccessFunc {
	return func(context.Context, *ClientRequest) (bool, string) { return true, "" }
}

// AllowList lets in only the given EndpointIDs.
func AllowList(ids ...key.PublicKey) AccessFunc {
	set := make(map[key.PublicKey]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return func(_ context.Context, r *ClientRequest) (bool, string) {
		return set[r.EndpointID], relay.DenyNotAuthorized
	}
}

// DenyList lets in everyone except the given EndpointIDs.
func DenyList(ids ...key.PublicKey) AccessFunc {
	set := make(map[key.PublicKey]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return func(_ context.Context, r *ClientRequest) (bool, string) {
		return !set[r.EndpointID], relay.DenyNotAuthorized
	}
}

// SharedTokens lets in clients whose AuthToken is one of tokens.
func SharedTokens(tokens ...string) AccessFunc {
	set := make(map[string]bool, len(tokens))
	for _, t := range tokens {
		set[t] = true
	}
	return func(_ context.Context, r *ClientRequest) (bool, string) {
		t := r.AuthToken()
		return t != "" && set[t], relay.DenyNotAuthorized
	}
}

// HTTPCheck asks an HTTP service: it POSTs to url with header
// "X-Iroh-NodeId: <hex EndpointID>" (and "Authorization: Bearer
// <bearerToken>" when not empty) and allows iff the answer is 200 with body
// exactly "true". client nil means http.DefaultClient. Errors deny.
func HTTPCheck(url, bearerToken string, client *http.Client) AccessFunc {
	if client == nil {
		client = http.DefaultClient
	}
	return func(ctx context.Context, r *ClientRequest) (bool, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
		if err != nil {
			return false, relay.DenyNotAuthorized
		}
		req.Header.Set("X-Iroh-NodeId", r.EndpointID.String())
		if bearerToken != "" {
			req.Header.Set("Authorization", "Bearer "+bearerToken)
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, relay.DenyNotAuthorized
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64))
		if err != nil || resp.StatusCode != http.StatusOK || string(body) != "true" {
			return false, relay.DenyNotAuthorized
		}
		return true, ""
	}
}
