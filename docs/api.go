package docs

import (
	"context"
	"fmt"
	"io"

	"github.com/iroh-go/iroh"
	"github.com/iroh-go/iroh/blobs"
)

// CreateDoc creates a document with a fresh namespace secret and makes it
// live.
func (e *Engine) CreateDoc(ctx context.Context) (NamespaceID, error) {
	ns, err := e.store.NewNamespace()
	if err != nil {
		return ns, err
	}
	return ns, e.StartSync(ctx, ns, nil)
}

// Import adds the document of a ticket (read or write capability) and
// starts syncing it with the ticket's endpoints.
func (e *Engine) Import(ctx context.Context, t DocTicket) (*Replica, error) {
	c, err := e.store.ImportNamespace(t.Capability)
	if err != nil {
		return nil, err
	}
	r, err := e.store.Replica(c.ID)
	if err != nil {
		return nil, err
	}
	return r, e.StartSync(ctx, c.ID, t.Nodes)
}

// Share returns a ticket for ns with the given capability (a write ticket
// needs the write capability) naming this endpoint, and makes ns live so
// the ticket's holder can sync.
func (e *Engine) Share(ctx context.Context, ns NamespaceID, kind CapabilityKind) (DocTicket, error) {
	c, err := e.store.Capability(ns)
	if err != nil {
		return DocTicket{}, err
	}
	if kind == Read {
		c = ReadCapability(ns)
	} else if c.Kind != Write {
		return DocTicket{}, fmt.Errorf("%w: cannot share write access to %s", ErrReadOnly, ns.ShortString())
	}
	if err := e.StartSync(ctx, ns, nil); err != nil {
		return DocTicket{}, err
	}
	return DocTicket{Capability: c, Nodes: []iroh.EndpointAddr{e.ep.Addr()}}, nil
}

// Drop stops syncing ns and removes its replica.
func (e *Engine) Drop(ns NamespaceID) error {
	e.LeaveSync(ns)
	return e.store.DropNamespace(ns)
}

// SetBytes stores value in the blob store and writes it under key as
// author.
func (e *Engine) SetBytes(ctx context.Context, ns NamespaceID, author AuthorID, k, value []byte) (*SignedEntry, error) {
	r, err := e.store.Replica(ns)
	if err != nil {
		return nil, err
	}
	tt, err := e.blobs.AddBytes(ctx, value)
	if err != nil {
		return nil, err
	}
	defer tt.Close()
	e.protect(tt.Hash())
	return r.Set(author, k, tt.Hash(), uint64(len(value)))
}

// ImportFile copies the file at path into the blob store and writes it
// under key as author.
func (e *Engine) ImportFile(ctx context.Context, ns NamespaceID, author AuthorID, k []byte, path string) (*SignedEntry, error) {
	r, err := e.store.Replica(ns)
	if err != nil {
		return nil, err
	}
	tt, err := e.blobs.AddFile(ctx, path)
	if err != nil {
		return nil, err
	}
	defer tt.Close()
	e.protect(tt.Hash())
	bf, err := e.blobs.Bitfield(ctx, tt.Hash())
	if err != nil {
		return nil, err
	}
	return r.Set(author, k, tt.Hash(), bf.Size)
}

// ExportFile writes the content of entry to path. The content must be
// complete locally (blobs.ErrNotFound otherwise).
func (e *Engine) ExportFile(ctx context.Context, entry *SignedEntry, path string) error {
	return e.blobs.ExportFile(ctx, entry.Hash(), path)
}

// MaxContentRead bounds Content: larger values are read with ExportFile.
const MaxContentRead = 64 << 20

// Content returns the content of entry, which must be complete locally and
// at most MaxContentRead bytes.
func (e *Engine) Content(ctx context.Context, entry *SignedEntry) ([]byte, error) {
	return ReadContent(ctx, e.blobs, entry)
}

// ReadContent reads the content of entry from bs (at most MaxContentRead
// bytes).
func ReadContent(ctx context.Context, bs blobs.Store, entry *SignedEntry) ([]byte, error) {
	if entry.IsEmpty() {
		return nil, nil
	}
	if entry.Len() > MaxContentRead {
		return nil, fmt.Errorf("docs: content of %d bytes exceeds %d; export it to a file", entry.Len(), MaxContentRead)
	}
	br, err := bs.OpenReader(ctx, entry.Hash())
	if err != nil {
		return nil, err
	}
	defer br.Close()
	b := make([]byte, br.Size())
	if _, err := br.Data().ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}
