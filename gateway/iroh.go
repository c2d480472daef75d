package gateway

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/bao"
	"github.com/iroh-go/iroh/blobs/store"
	"github.com/iroh-go/iroh/endpointaddr"
)

// MaxListing bounds the entries of one collection listing.
const MaxListing = 10000

// ETag returns the strong entity tag of content with hash h.
func ETag(h blobs.Hash) string { return `"` + h.String() + `"` }

// etagMatch reports whether an If-None-Match value matches etag (weak
// comparison, as RFC 9110 §13.1.2 asks).
func etagMatch(inm, etag string) bool {
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// blobHeaders sets the headers every blob response carries.
func blobHeaders(w http.ResponseWriter, r *http.Request, h blobs.Hash, name string) {
	hd := w.Header()
	hd.Set("ETag", ETag(h))
	hd.Set("Cache-Control", "public, max-age=29030400, immutable")
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("X-Content-Type-Options", "nosniff")
	q := r.URL.Query()
	fn := q.Get("filename")
	if fn == "" {
		fn = path.Base(name)
		if name == "" {
			fn = ""
		}
	}
	disp := "inline"
	if v := q.Get("download"); v == "true" || v == "1" {
		disp = "attachment"
		if fn == "" {
			fn = h.String()
		}
	}
	if fn != "" {
		hd.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": fn}))
	}
	if ct := mime.TypeByExtension(path.Ext(fn)); ct != "" && hd.Get("Content-Type") == "" {
		hd.Set("Content-Type", ct)
	}
}

// checkRange answers 400 for a malformed Range header of a request that
// would use it, and reports whether it did.
func checkRange(w http.ResponseWriter, r *http.Request, h blobs.Hash, size uint64) bool {
	rng := r.Header.Get("Range")
	if rng == "" {
		return false
	}
	if ir := r.Header.Get("If-Range"); ir != "" && ir != ETag(h) {
		return false
	}
	if _, err := ParseRange(rng, size); err != nil && !errors.Is(err, ErrUnsatisfiable) {
		httpError(w, http.StatusBadRequest, "%v", err)
		return true
	}
	return false
}

// serveLocal serves the complete blob h from the store, and reports false
// (having written nothing) if the store lacks it.
func (g *Gateway) serveLocal(w http.ResponseWriter, r *http.Request, h blobs.Hash, name string) (bool, error) {
	br, err := g.store.OpenReader(r.Context(), h)
	if errors.Is(err, blobs.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer br.Close()
	if checkRange(w, r, h, br.Size()) {
		return true, nil
	}
	blobHeaders(w, r, h, name)
	http.ServeContent(w, r, "", time.Time{}, contentOf(br))
	return true, nil
}

// contentOf returns the data of br as a ReadSeeker: the store's file itself
// when it holds exactly the blob (net/http then sends it with sendfile),
// else a section reader.
func contentOf(br blobs.BlobReader) io.ReadSeeker {
	if f, ok := br.Data().(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() == int64(br.Size()) {
			if _, err := f.Seek(0, io.SeekStart); err == nil {
				return f
			}
		}
	}
	return io.NewSectionReader(br.Data(), 0, int64(br.Size()))
}

func (g *Gateway) serveBlobRoute(w http.ResponseWriter, r *http.Request, rest string) {
	id, name, _ := splitFirst(rest)
	h, err := blobs.ParseHash(id)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if name != "" {
		if name, err = ParsePath(name); err != nil || strings.Contains(name, "/") {
			httpError(w, http.StatusBadRequest, "/blob/{hash}/{name}: bad name %q", rest)
			return
		}
	}
	ok, err := g.serveLocal(w, r, h, name)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "store: %v", err)
		return
	}
	if !ok {
		httpError(w, http.StatusNotFound, "blob %s not found", h)
	}
}

func (g *Gateway) serveCollectionRoute(w http.ResponseWriter, r *http.Request, rest string) {
	id, p, _ := splitFirst(rest)
	h, err := blobs.ParseHash(id)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if p, err = ParsePath(p); err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	c, err := store.LoadCollection(r.Context(), g.store, h)
	if errors.Is(err, blobs.ErrNotFound) {
		httpError(w, http.StatusNotFound, "collection %s not found", h)
		return
	}
	if err != nil {
		httpError(w, http.StatusBadGateway, "collection %s: %v", h, err)
		return
	}
	g.serveInCollection(w, r, c, h, "/collection/"+id+"/", p, nil)
}

// serveInCollection serves the member p of c, or the listing of the
// directory p. fetch, if set, fetches a member that is not in the store.
func (g *Gateway) serveInCollection(w http.ResponseWriter, r *http.Request, c blobs.Collection, root blobs.Hash, base, p string,
	remote func(w http.ResponseWriter, r *http.Request, h blobs.Hash, name string)) {
	if p != "" && !strings.HasSuffix(p, "/") {
		for _, e := range c {
			if e.Name == p {
				if remote != nil {
					remote(w, r, e.Hash, e.Name)
					return
				}
				ok, err := g.serveLocal(w, r, e.Hash, e.Name)
				if err != nil {
					httpError(w, http.StatusInternalServerError, "store: %v", err)
				} else if !ok {
					httpError(w, http.StatusNotFound, "member %q (%s) not in the store", p, e.Hash)
				}
				return
			}
		}
	}
	g.serveListing(w, r, c, root, base, p)
}

// listEntry is one row of a listing.
type listEntry struct {
	Name string `json:"name"`
	Dir  bool   `json:"dir,omitempty"`
	Hash string `json:"hash,omitempty"`
	Size uint64 `json:"size"`
	Have bool   `json:"complete"`
	URL  string `json:"url"`
}

var listingTmpl = template.Must(template.New("l").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;margin:2em}td{padding:0 1em 0 0}</style></head>
<body><h1>{{.Title}}</h1>
<p>collection <code id="root">{{.Root}}</code></p>
<table id="listing"><tr><th>name</th><th>size</th><th>hash</th></tr>
{{range .Entries}}<tr class="entry"><td><a href="{{.URL}}">{{.Name}}{{if .Dir}}/{{end}}</a></td><td>{{if not .Dir}}{{.Size}}{{end}}</td><td><code>{{.Hash}}</code></td></tr>
{{end}}</table></body></html>
`))

func (g *Gateway) serveListing(w http.ResponseWriter, r *http.Request, c blobs.Collection, root blobs.Hash, base, p string) {
	prefix := p
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	seen := make(map[string]bool)
	var entries []listEntry
	for _, e := range c {
		rest, ok := strings.CutPrefix(e.Name, prefix)
		if !ok || rest == "" {
			continue
		}
		if len(entries) >= MaxListing {
			break
		}
		first, _, isDir := splitFirst(rest)
		if isDir {
			if !seen[first] {
				seen[first] = true
				entries = append(entries, listEntry{Name: first, Dir: true, URL: base + escapePath(prefix+first) + "/"})
			}
			continue
		}
		le := listEntry{Name: first, Hash: e.Hash.String(), URL: base + escapePath(e.Name)}
		if bf, err := g.store.Bitfield(r.Context(), e.Hash); err == nil && bf.Known {
			le.Size, le.Have = bf.Size, bf.Complete()
		}
		entries = append(entries, le)
	}
	if len(entries) == 0 && p != "" {
		httpError(w, http.StatusNotFound, "%q is not in collection %s", p, root)
		return
	}
	slices.SortStableFunc(entries, func(a, b listEntry) int { return cmp.Compare(a.Name, b.Name) })
	hd := w.Header()
	asJSON := wantsJSON(r)
	kind := ".html"
	if asJSON {
		kind = ".json"
	}
	// The listing of an immutable collection never changes; its ETag
	// names the collection, the directory and the representation.
	hd.Set("ETag", `"`+root.String()+"/"+url.PathEscape(p)+kind+`"`)
	hd.Set("Cache-Control", "public, max-age=29030400, immutable")
	hd.Set("Vary", "Accept")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, hd.Get("ETag")) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if asJSON {
		hd.Set("Content-Type", "application/json")
		if r.Method == http.MethodHead {
			return
		}
		json.NewEncoder(w).Encode(struct {
			Collection string      `json:"collection"`
			Path       string      `json:"path"`
			Entries    []listEntry `json:"entries"`
		}{root.String(), p, entries})
		return
	}
	hd.Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	listingTmpl.Execute(w, struct {
		Title   string
		Root    string
		Entries []listEntry
	}{"/" + p, root.String(), entries})
}

func wantsJSON(r *http.Request) bool {
	if r.URL.Query().Get("format") == "json" {
		return true
	}
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := mime.ParseMediaType(strings.TrimSpace(a))
		if mt == "application/json" {
			return true
		}
		if mt == "text/html" {
			return false
		}
	}
	return false
}

// escapePath escapes each segment of a '/'-separated path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func (g *Gateway) serveTicketRoute(w http.ResponseWriter, r *http.Request, rest string) {
	ts, p, _ := splitFirst(rest)
	t, err := blobs.ParseBlobTicket(ts)
	if err != nil {
		httpError(w, http.StatusBadRequest, "ticket: %v", err)
		return
	}
	if p, err = ParsePath(p); err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	remote := func(w http.ResponseWriter, r *http.Request, h blobs.Hash, name string) {
		g.serveRemoteBlob(w, r, t.Addr, h, name)
	}
	if t.Format == blobs.Raw {
		if p != "" {
			httpError(w, http.StatusBadRequest, "ticket names a blob, not a collection: no path %q in it", p)
			return
		}
		remote(w, r, t.Hash, "")
		return
	}
	// A collection: its hash seq and metadata blob come into the store
	// first (small), then the member is streamed.
	c, err := store.LoadCollection(r.Context(), g.store, t.Hash)
	if errors.Is(err, blobs.ErrNotFound) {
		c, err = g.fetchCollection(r.Context(), t.Addr, t.Hash)
	}
	if err != nil {
		httpError(w, errStatus(err), "collection %s: %v", t.Hash, err)
		return
	}
	g.serveInCollection(w, r, c, t.Hash, "/ticket/"+ts+"/", p, remote)
}

// admit checks that the gateway may fetch from addr and takes a fetch slot;
// the caller calls release when done.
func (g *Gateway) admit(addr endpointaddr.Addr) (release func(), err error) {
	if !g.allow(addr) {
		g.countFetch("refused")
		return nil, statusErr(http.StatusForbidden, "provider %s is not allowed by this gateway", addr.ID)
	}
	if g.dial == nil {
		g.countFetch("refused")
		return nil, statusErr(http.StatusBadGateway, "content not in the store and this gateway fetches from no provider")
	}
	select {
	case g.fetches <- struct{}{}:
		return func() { <-g.fetches }, nil
	default:
		g.countFetch("busy")
		return nil, statusErr(http.StatusServiceUnavailable, "too many remote fetches in flight")
	}
}

func (g *Gateway) countFetch(result string) {
	if g.metrics != nil {
		g.metrics.RemoteFetches.WithLabelValues(result).Inc()
	}
}

func (g *Gateway) fetchCollection(ctx context.Context, addr endpointaddr.Addr, root blobs.Hash) (blobs.Collection, error) {
	release, err := g.admit(addr)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := g.ensureComplete(ctx, addr, root); err != nil {
		g.countFetch("failed")
		return nil, err
	}
	seq, err := store.ReadCollectionSeq(ctx, g.store, root)
	if err != nil {
		return nil, err
	}
	if err := g.ensureComplete(ctx, addr, seq[0]); err != nil {
		g.countFetch("failed")
		return nil, err
	}
	g.countFetch("ok")
	return store.LoadCollection(ctx, g.store, root)
}

// serveRemoteBlob serves blob h from the store, or streams it from addr:
// each chunk group is verified before its bytes are written.
func (g *Gateway) serveRemoteBlob(w http.ResponseWriter, r *http.Request, addr endpointaddr.Addr, h blobs.Hash, name string) {
	ok, err := g.serveLocal(w, r, h, name)
	if ok {
		return
	}
	if err != nil {
		httpError(w, http.StatusInternalServerError, "store: %v", err)
		return
	}
	etag := ETag(h)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, etag) {
		blobHeaders(w, r, h, name)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	release, err := g.admit(addr)
	if err != nil {
		httpError(w, errStatus(err), "%v", err)
		return
	}
	defer release()
	ctx := r.Context()
	rng := r.Header.Get("Range")
	if ir := r.Header.Get("If-Range"); ir != "" && ir != etag {
		rng = ""
	}
	if rng == "" && r.Method == http.MethodGet {
		g.streamWhole(w, r, addr, h, name)
		return
	}
	size, err := g.validatedSize(ctx, addr, h)
	if err != nil {
		g.countFetch("failed")
		httpError(w, errStatus(err), "%v", err)
		return
	}
	if rng == "" { // HEAD
		blobHeaders(w, r, h, name)
		defaultType(w)
		w.Header().Set("Content-Length", strconv.FormatUint(size, 10))
		w.WriteHeader(http.StatusOK)
		g.countFetch("ok")
		return
	}
	ranges, err := ParseRange(rng, size)
	if errors.Is(err, ErrUnsatisfiable) {
		w.Header().Set("Content-Range", "bytes */"+strconv.FormatUint(size, 10))
		httpError(w, http.StatusRequestedRangeNotSatisfiable, "%v", err)
		return
	}
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if len(ranges) > 1 {
		// Several ranges: fetch the blob, then let ServeContent write the
		// multipart body from the store.
		if err := g.ensureComplete(ctx, addr, h); err != nil {
			g.countFetch("failed")
			httpError(w, errStatus(err), "%v", err)
			return
		}
		g.countFetch("ok")
		if ok, err := g.serveLocal(w, r, h, name); !ok {
			httpError(w, http.StatusInternalServerError, "store: %v", err)
		}
		return
	}
	br := ranges[0]
	blobHeaders(w, r, h, name)
	defaultType(w)
	w.Header().Set("Content-Range", "bytes "+strconv.FormatUint(br.Start, 10)+"-"+strconv.FormatUint(br.Start+br.Length-1, 10)+"/"+strconv.FormatUint(size, 10))
	w.Header().Set("Content-Length", strconv.FormatUint(br.Length, 10))
	w.WriteHeader(http.StatusPartialContent)
	if r.Method == http.MethodHead {
		return
	}
	end := br.Start + br.Length
	err = g.fetch(ctx, addr, h, groupRanges(br.Start, end), func(s uint64) error {
		if s != size {
			return errors.New("provider changed the size")
		}
		return nil
	}, func(off uint64, data []byte) error {
		lo, hi := max(off, br.Start), min(off+uint64(len(data)), end)
		if lo >= hi {
			return nil
		}
		_, err := w.Write(data[lo-off : hi-off])
		return err
	})
	g.fetchDone(err, h)
}

func (g *Gateway) fetchDone(err error, h blobs.Hash) {
	if err != nil {
		g.countFetch("failed")
		// Headers are out: returning with fewer bytes than Content-Length
		// makes net/http close the connection, a broken transfer.
		g.log.Debug("remote fetch failed", "hash", h.ShortString(), "err", err)
		return
	}
	g.countFetch("ok")
}

func defaultType(w http.ResponseWriter) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
}

// streamWhole streams all of blob h from addr: headers go out with the
// first verified chunk group (sniffed for its type when the name does not
// say).
func (g *Gateway) streamWhole(w http.ResponseWriter, r *http.Request, addr endpointaddr.Addr, h blobs.Hash, name string) {
	blobHeaders(w, r, h, name)
	var size uint64
	started := false
	start := func(first []byte) {
		started = true
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", http.DetectContentType(first))
		}
		w.Header().Set("Content-Length", strconv.FormatUint(size, 10))
		w.WriteHeader(http.StatusOK)
	}
	err := g.fetch(r.Context(), addr, h, bao.All(), func(s uint64) error {
		size = s
		return nil
	}, func(off uint64, data []byte) error {
		if !started {
			start(data)
		}
		_, err := w.Write(data)
		if f, ok := w.(http.Flusher); ok && off == 0 {
			f.Flush() // the first group out at once: time to first byte
		}
		return err
	})
	if err != nil && !started {
		g.countFetch("failed")
		httpError(w, errStatus(err), "%v", err)
		return
	}
	if !started { // empty blob
		start(nil)
	}
	g.fetchDone(err, h)
}
