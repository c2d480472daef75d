package blobs

import (
	"fmt"

	"github.com/iroh-go/iroh/blobs/bao"
	"github.com/iroh-go/iroh/internal/postcard"
)

// ALPN is the protocol name of iroh-blobs (spec §1).
const ALPN = "/iroh-bytes/4"

// MaxRequestSize is the largest request a provider reads (iroh-blobs 0.103
// MAX_MESSAGE_SIZE): the request stream is read to EOF and one byte more is
// an error.
const MaxRequestSize = 1 << 20

// maxGetManyHashes bounds the hashes of a GetMany request; the size limit
// bounds it anyway (32 bytes each), this just names the bound.
const maxGetManyHashes = MaxRequestSize / HashSize

// RequestType is the first byte of a request: the postcard variant index of
// iroh-blobs 0.103 Request (spec §5).
type RequestType byte

// Request types. 2..7 are reserved and rejected.
const (
	RequestGet     RequestType = 0
	RequestObserve RequestType = 1
	RequestPush    RequestType = 8
	RequestGetMany RequestType = 9
)

// String returns a short lower-case name, also used as a metric label.
func (t RequestType) String() string {
	switch t {
	case RequestGet:
		return "get"
	case RequestObserve:
		return "observe"
	case RequestPush:
		return "push"
	case RequestGetMany:
		return "get_many"
	}
	return fmt.Sprintf("type%d", byte(t))
}

// Request is one of *GetRequest, *GetManyRequest, *ObserveRequest or
// *PushRequest.
type Request interface {
	// Type returns the request's type byte.
	Type() RequestType
	// AppendBinary appends the request's full wire form, type byte first.
	AppendBinary(b []byte) []byte
}

// GetRequest asks for a blob and, through Ranges indices ≥ 1, the children
// of its hash sequence (spec §5, §6.1).
type GetRequest struct {
	Hash   Hash
	Ranges bao.ChunkRangesSeq
}

// NewGetBlob returns the request for the whole blob h (GetRequest::blob).
func NewGetBlob(h Hash) *GetRequest { return &GetRequest{Hash: h, Ranges: bao.SeqBlob(bao.All())} }

// NewGetAll returns the request for the hash seq h and all its children
// (GetRequest::all).
func NewGetAll(h Hash) *GetRequest { return &GetRequest{Hash: h, Ranges: bao.SeqAll()} }

// Type implements Request.
func (r *GetRequest) Type() RequestType { return RequestGet }

// AppendBinary implements Request.
func (r *GetRequest) AppendBinary(b []byte) []byte {
	return r.appendBody(append(b, byte(RequestGet)))
}

func (r *GetRequest) appendBody(b []byte) []byte {
	b = append(b, r.Hash[:]...)
	return r.Ranges.Append(b)
}

func parseGetBody(b []byte) (*GetRequest, int, error) {
	if len(b) < HashSize {
		return nil, 0, fmt.Errorf("hash: %w", postcard.ErrTruncated)
	}
	r := &GetRequest{Hash: Hash(b[:HashSize])}
	seq, n, err := bao.ParseChunkRangesSeq(b[HashSize:])
	if err != nil {
		return nil, 0, fmt.Errorf("ranges at offset %d: %w", HashSize, err)
	}
	r.Ranges = seq
	return r, HashSize + n, nil
}

// GetManyRequest asks for several blobs by hash; Ranges index i applies to
// Hashes[i] (0.103 only).
type GetManyRequest struct {
	Hashes []Hash
	Ranges bao.ChunkRangesSeq
}

// Type implements Request.
func (r *GetManyRequest) Type() RequestType { return RequestGetMany }

// AppendBinary implements Request.
func (r *GetManyRequest) AppendBinary(b []byte) []byte {
	b = append(b, byte(RequestGetMany))
	b = postcard.AppendUvarint(b, uint64(len(r.Hashes)))
	for _, h := range r.Hashes {
		b = append(b, h[:]...)
	}
	return r.Ranges.Append(b)
}

// ObserveRequest asks for the bitfield of a blob and its changes (0.103
// only; the provider observes the whole blob whatever Ranges says).
type ObserveRequest struct {
	Hash   Hash
	Ranges bao.ChunkRanges
}

// Type implements Request.
func (r *ObserveRequest) Type() RequestType { return RequestObserve }

// AppendBinary implements Request.
func (r *ObserveRequest) AppendBinary(b []byte) []byte {
	b = append(b, byte(RequestObserve))
	b = append(b, r.Hash[:]...)
	return r.Ranges.AppendRangeSpec(b)
}

// PushRequest announces data pushed to the provider (0.103, experimental;
// spec §7.3). Its wire form is the type byte, a varint length and the
// GetRequest; the pushed data follows on the stream.
type PushRequest struct {
	GetRequest
}

// Type implements Request.
func (r *PushRequest) Type() RequestType { return RequestPush }

// AppendBinary implements Request.
func (r *PushRequest) AppendBinary(b []byte) []byte {
	body := r.GetRequest.appendBody(nil)
	b = append(b, byte(RequestPush))
	b = postcard.AppendUvarint(b, uint64(len(body)))
	return append(b, body...)
}

// RequestError reports a malformed request.
type RequestError struct {
	Offset int
	Msg    string
	Err    error
}

// Error implements error.
func (e *RequestError) Error() string {
	s := fmt.Sprintf("blobs request: %s at offset %d", e.Msg, e.Offset)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying decoding error, if any.
func (e *RequestError) Unwrap() error { return e.Err }

// ParseRequest decodes one request from the start of b and returns it with
// the number of bytes consumed. For Push only the header is consumed; the
// pushed data follows. b must hold at most MaxRequestSize bytes for
// non-push requests (the provider enforces this while reading).
func ParseRequest(b []byte) (Request, int, error) {
	if len(b) == 0 {
		return nil, 0, &RequestError{Msg: "empty request", Err: postcard.ErrTruncated}
	}
	switch t := RequestType(b[0]); t {
	case RequestGet:
		r, n, err := parseGetBody(b[1:])
		if err != nil {
			return nil, 0, &RequestError{Offset: 1, Msg: "get", Err: err}
		}
		return r, 1 + n, nil
	case RequestObserve:
		if len(b) < 1+HashSize {
			return nil, 0, &RequestError{Offset: 1, Msg: "observe hash", Err: postcard.ErrTruncated}
		}
		r := &ObserveRequest{Hash: Hash(b[1 : 1+HashSize])}
		rs, n, err := bao.ParseRangeSpec(b[1+HashSize:])
		if err != nil {
			return nil, 0, &RequestError{Offset: 1 + HashSize, Msg: "observe ranges", Err: err}
		}
		r.Ranges = rs
		return r, 1 + HashSize + n, nil
	case RequestGetMany:
		count, n, err := postcard.Uvarint(b[1:])
		if err != nil {
			return nil, 0, &RequestError{Offset: 1, Msg: "get_many count", Err: err}
		}
		off := 1 + n
		if count > maxGetManyHashes || count*HashSize > uint64(len(b)-off) {
			return nil, 0, &RequestError{Offset: 1, Msg: fmt.Sprintf("get_many count %d exceeds the %d remaining bytes", count, len(b)-off)}
		}
		r := &GetManyRequest{Hashes: make([]Hash, count)}
		for i := range r.Hashes {
			r.Hashes[i] = Hash(b[off : off+HashSize])
			off += HashSize
		}
		seq, n, err := bao.ParseChunkRangesSeq(b[off:])
		if err != nil {
			return nil, 0, &RequestError{Offset: off, Msg: "get_many ranges", Err: err}
		}
		r.Ranges = seq
		return r, off + n, nil
	case RequestPush:
		l, n, err := postcard.Uvarint(b[1:])
		if err != nil {
			return nil, 0, &RequestError{Offset: 1, Msg: "push length", Err: err}
		}
		off := 1 + n
		if l > MaxRequestSize || l > uint64(len(b)-off) {
			return nil, 0, &RequestError{Offset: 1, Msg: fmt.Sprintf("push length %d exceeds the %d remaining bytes", l, len(b)-off)}
		}
		g, k, err := parseGetBody(b[off : off+int(l)])
		if err != nil {
			return nil, 0, &RequestError{Offset: off, Msg: "push", Err: err}
		}
		if k != int(l) {
			return nil, 0, &RequestError{Offset: off + k, Msg: fmt.Sprintf("push header has %d trailing bytes", int(l)-k)}
		}
		return &PushRequest{GetRequest: *g}, off + k, nil
	default:
		return nil, 0, &RequestError{Msg: fmt.Sprintf("unknown request type %d", b[0])}
	}
}

// ObserveItem is one frame of an Observe response: the blob size and the
// present chunks (a full state first, then changes).
type ObserveItem struct {
	Size   uint64
	Ranges bao.ChunkRanges
}

// maxObserveFrame bounds one Observe frame.
const maxObserveFrame = 1 << 20

// AppendFrame appends the length-prefixed frame of it (spec §8).
func (it ObserveItem) AppendFrame(b []byte) []byte {
	body := postcard.AppendUvarint(nil, it.Size)
	body = it.Ranges.AppendBoundaries(body)
	b = postcard.AppendUvarint(b, uint64(len(body)))
	return append(b, body...)
}

// ParseObserveFrame decodes one frame and returns the bytes consumed.
func ParseObserveFrame(b []byte) (ObserveItem, int, error) {
	var it ObserveItem
	l, n, err := postcard.Uvarint(b)
	if err != nil {
		return it, 0, fmt.Errorf("observe frame: length: %w", err)
	}
	if l > maxObserveFrame || l > uint64(len(b)-n) {
		return it, 0, fmt.Errorf("observe frame: length %d exceeds the %d remaining bytes", l, len(b)-n)
	}
	body := b[n : n+int(l)]
	sz, k, err := postcard.Uvarint(body)
	if err != nil {
		return it, 0, fmt.Errorf("observe frame: size at offset %d: %w", n, err)
	}
	it.Size = sz
	rs, m, err := bao.ParseBoundaries(body[k:])
	if err != nil {
		return it, 0, fmt.Errorf("observe frame: ranges at offset %d: %w", n+k, err)
	}
	if k+m != len(body) {
		return it, 0, fmt.Errorf("observe frame: %d trailing bytes", len(body)-k-m)
	}
	it.Ranges = rs
	return it, n + int(l), nil
}
