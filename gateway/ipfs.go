package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/files"
	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/path"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
	_ "github.com/multiformats/go-multihash/register/blake3" // BLAKE3 multihashes, for our blobs' CIDs

	"github.com/iroh-go/iroh/blobs"
	"github.com/iroh-go/iroh/blobs/store"
)

// IPFSOptions configures the /ipfs routes.
type IPFSOptions struct {
	// TrustlessOnly serves only verifiable responses (raw blocks and CARs),
	// as a trustless gateway; false also serves deserialized UnixFS files
	// and directories (the path gateway).
	TrustlessOnly bool
	// MaxBlockSize bounds a block loaded whole into memory (for CARs and
	// DAG traversal). Blobs addressed by their BLAKE3 CID are streamed from
	// the store as raw blocks or files whatever their size. Zero means
	// 4 MiB.
	MaxBlockSize int
	// RetrievalTimeout bounds the time to the first byte and between
	// writes of an /ipfs response; zero means 60s.
	RetrievalTimeout time.Duration
}

// Multihash and codec codes used here (multicodec table).
const (
	codeRaw    = 0x55
	codeBlake3 = 0x1e
)

// CID returns the CIDv1 of blob h: raw codec, BLAKE3-256 multihash (its
// text form starts with "bafkr4").
func CID(h blobs.Hash) cid.Cid {
	m, _ := mh.Encode(h[:], codeBlake3) // cannot fail: known code, 32 bytes
	return cid.NewCidV1(codeRaw, m)
}

// BlobOfCID returns the blob hash of a CID whose multihash is BLAKE3-256
// (whatever its codec), and false for other CIDs.
func BlobOfCID(c cid.Cid) (blobs.Hash, bool) {
	d, err := mh.Decode(c.Hash())
	if err != nil || d.Code != codeBlake3 || len(d.Digest) != blobs.HashSize {
		return blobs.Hash{}, false
	}
	return blobs.Hash(d.Digest), true
}

// ipldCodecs are the codecs boxo can decode (multicodec table).
var ipldCodecs = map[uint64]bool{0x55: true, 0x70: true, 0x71: true, 0x0129: true, 0x0200: true, 0x51: true, 0x72: true}

// checkIPFSPath refuses an /ipfs path whose CID is well formed but names a
// codec no decoder exists for (boxo would answer 500). Malformed CIDs are
// left to boxo, which answers 400.
func checkIPFSPath(p string) error {
	seg, _, _ := splitFirst(strings.TrimPrefix(p, "/ipfs/"))
	c, err := cid.Decode(seg)
	if err != nil {
		return nil
	}
	if !ipldCodecs[c.Type()] {
		return fmt.Errorf("cid %s: codec 0x%x is not supported by this gateway", trunc(seg), c.Type())
	}
	return nil
}

// codeIdentity is the identity multihash: the "digest" is the content.
const codeIdentity = 0x00

// inlineIPFSPath reports whether an /ipfs path's CID carries its content
// inline (identity multihash): the content then comes from the request
// itself, so failing to interpret it is the client's error, not ours.
func inlineIPFSPath(p string) bool {
	seg, _, _ := splitFirst(strings.TrimPrefix(p, "/ipfs/"))
	c, err := cid.Decode(seg)
	return err == nil && c.Prefix().MhType == codeIdentity
}

// tagPrefix starts the store tags that index foreign CIDs: tag
// "ipfs/<multihash in base32>" points at the blob holding the block, and
// protects it from GC.
const tagPrefix = "ipfs/"

// cidIndex maps multihashes of foreign blocks to blob hashes. It is kept in
// the store as tags and cached in memory.
type cidIndex struct {
	s blobs.Store

	mu     sync.Mutex
	m      map[string]blobs.Hash // key: multihash bytes
	names  map[string]blobs.Hash // IPNS name (CIDv1 libp2p-key text) → record blob
	loaded time.Time
}

// reload reads the index tags of the store, at most once a second (another
// process may import CARs into the same store).
func (x *cidIndex) reload(ctx context.Context, force bool) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !force && time.Since(x.loaded) < time.Second {
		return nil
	}
	tags, err := x.s.Tags(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]blobs.Hash)
	names := make(map[string]blobs.Hash)
	for _, t := range tags {
		if n, ok := strings.CutPrefix(t.Name, ipnsTagPrefix); ok {
			names[n] = t.Value.Hash
			continue
		}
		k, ok := strings.CutPrefix(t.Name, tagPrefix)
		if !ok {
			continue
		}
		c, err := cid.Decode(k)
		if err != nil {
			continue
		}
		m[string(c.Hash())] = t.Value.Hash
	}
	x.m, x.names, x.loaded = m, names, time.Now()
	return nil
}

// lookup returns the blob of c: its own hash for a BLAKE3 CID, else what
// the index says.
func (x *cidIndex) lookup(ctx context.Context, c cid.Cid) (blobs.Hash, bool) {
	if h, ok := BlobOfCID(c); ok {
		return h, true
	}
	x.mu.Lock()
	h, ok := x.m[string(c.Hash())]
	x.mu.Unlock()
	if ok {
		return h, true
	}
	if x.reload(ctx, false) != nil {
		return blobs.Hash{}, false
	}
	x.mu.Lock()
	h, ok = x.m[string(c.Hash())]
	x.mu.Unlock()
	return h, ok
}

// record returns the blob of the IPNS record stored for name (its text
// form), reloading the index when it is not known.
func (x *cidIndex) record(ctx context.Context, name string) (blobs.Hash, bool) {
	for range 2 {
		x.mu.Lock()
		h, ok := x.names[name]
		x.mu.Unlock()
		if ok {
			return h, true
		}
		if x.reload(ctx, false) != nil {
			break
		}
	}
	return blobs.Hash{}, false
}

func (x *cidIndex) add(ctx context.Context, c cid.Cid, h blobs.Hash) error {
	if _, ok := BlobOfCID(c); ok {
		return x.s.SetTag(ctx, tagPrefix+c.String(), blobs.HashAndFormat{Hash: h})
	}
	// Index by multihash: any codec over the same bytes finds the blob.
	key := cid.NewCidV1(codeRaw, c.Hash())
	if err := x.s.SetTag(ctx, tagPrefix+key.String(), blobs.HashAndFormat{Hash: h}); err != nil {
		return err
	}
	x.mu.Lock()
	if x.m == nil {
		x.m = make(map[string]blobs.Hash)
	}
	x.m[string(c.Hash())] = h
	x.mu.Unlock()
	return nil
}

// blockStore is a boxo Blockstore over a blobs.Store: a block is a blob.
type blockStore struct {
	s   blobs.Store
	idx *cidIndex
	max int
}

var _ blockstore.Blockstore = (*blockStore)(nil)

var errReadOnly = errors.New("gateway blockstore: deleting blocks is not supported")

func (b *blockStore) DeleteBlock(context.Context, cid.Cid) error { return errReadOnly }

func (b *blockStore) Has(ctx context.Context, c cid.Cid) (bool, error) {
	h, ok := b.idx.lookup(ctx, c)
	if !ok {
		return false, nil
	}
	bf, err := b.s.Bitfield(ctx, h)
	if err != nil {
		return false, err
	}
	return bf.Complete(), nil
}

func (b *blockStore) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	h, ok := b.idx.lookup(ctx, c)
	if !ok {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	bf, err := b.s.Bitfield(ctx, h)
	if err != nil {
		return nil, err
	}
	if bf.Complete() && bf.Size > uint64(b.max) {
		return nil, boxogw.NewErrorStatusCode(fmt.Errorf("block %s: %d bytes exceeds the %d this gateway loads whole; ask for it without a path or format=car (raw, with ranges)", c, bf.Size, b.max), http.StatusNotImplemented)
	}
	data, err := store.ReadBlob(ctx, b.s, h, uint64(b.max))
	if errors.Is(err, blobs.ErrNotFound) {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	if err != nil {
		return nil, err
	}
	return blocks.NewBlockWithCid(data, c)
}

func (b *blockStore) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	h, ok := b.idx.lookup(ctx, c)
	if !ok {
		return 0, ipld.ErrNotFound{Cid: c}
	}
	bf, err := b.s.Bitfield(ctx, h)
	if err != nil {
		return 0, err
	}
	if !bf.Complete() {
		return 0, ipld.ErrNotFound{Cid: c}
	}
	return int(bf.Size), nil
}

func (b *blockStore) Put(ctx context.Context, blk blocks.Block) error {
	return putBlock(ctx, b.s, b.idx, blk)
}

func (b *blockStore) PutMany(ctx context.Context, bs []blocks.Block) error {
	for _, blk := range bs {
		if err := b.Put(ctx, blk); err != nil {
			return err
		}
	}
	return nil
}

func (b *blockStore) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	if err := b.idx.reload(ctx, true); err != nil {
		return nil, err
	}
	b.idx.mu.Lock()
	keys := make([]cid.Cid, 0, len(b.idx.m))
	for k := range b.idx.m {
		keys = append(keys, cid.NewCidV1(codeRaw, mh.Multihash(k)))
	}
	b.idx.mu.Unlock()
	ch := make(chan cid.Cid)
	go func() {
		defer close(ch)
		for _, k := range keys {
			select {
			case ch <- k:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

func (b *blockStore) HashOnRead(bool) {}

// putBlock verifies blk against its CID and stores it as a blob, indexed.
func putBlock(ctx context.Context, s blobs.Store, idx *cidIndex, blk blocks.Block) error {
	c := blk.Cid()
	got, err := c.Prefix().Sum(blk.RawData())
	if err != nil {
		return fmt.Errorf("block %s: %w", c, err)
	}
	if !got.Equals(c) {
		return fmt.Errorf("block %s: data hashes to %s", c, got)
	}
	tt, err := s.AddBytes(ctx, blk.RawData())
	if err != nil {
		return err
	}
	defer tt.Close()
	return idx.add(ctx, c, tt.HashAndFormat().Hash)
}

// ipfsBackend is boxo's blocks backend over our blockstore, except that a
// BLAKE3 raw CID alone (no path) is streamed from the store, so a blob of
// any size is served with verified ranges and constant memory.
type ipfsBackend struct {
	*boxogw.BlocksBackend
	s   blobs.Store
	idx *cidIndex
}

// storeBlob returns the blob a path names when it is a BLAKE3 CID alone.
func (b *ipfsBackend) storeBlob(ctx context.Context, p path.ImmutablePath) (blobs.BlobReader, bool, error) {
	if len(p.Segments()) != 2 {
		return nil, false, nil
	}
	c := p.RootCid()
	h, ok := BlobOfCID(c)
	if !ok || c.Type() != codeRaw {
		return nil, false, nil
	}
	br, err := b.s.OpenReader(ctx, h)
	if errors.Is(err, blobs.ErrNotFound) {
		return nil, true, ipld.ErrNotFound{Cid: c}
	}
	return br, true, err
}

func (b *ipfsBackend) meta(p path.ImmutablePath) boxogw.ContentPathMetadata {
	return boxogw.ContentPathMetadata{PathSegmentRoots: []cid.Cid{p.RootCid()}, LastSegment: p}
}

// Get implements boxo's IPFSBackend.
func (b *ipfsBackend) Get(ctx context.Context, p path.ImmutablePath, ranges ...boxogw.ByteRange) (boxogw.ContentPathMetadata, *boxogw.GetResponse, error) {
	br, ok, err := b.storeBlob(ctx, p)
	if !ok {
		return b.BlocksBackend.Get(ctx, p, ranges...)
	}
	if err != nil {
		return b.meta(p), nil, err
	}
	f := newBlobFile(br)
	// boxo expects the reader at the start of the first range.
	if len(ranges) > 0 {
		size := int64(br.Size())
		start := ranges[0].From
		if start < 0 {
			start = max(size+start, 0)
		}
		if _, err := f.Seek(min(start, size), io.SeekStart); err != nil {
			f.Close()
			return b.meta(p), nil, err
		}
	}
	return b.meta(p), boxogw.NewGetResponseFromReader(f, int64(br.Size())), nil
}

// GetBlock implements boxo's IPFSBackend.
func (b *ipfsBackend) GetBlock(ctx context.Context, p path.ImmutablePath) (boxogw.ContentPathMetadata, files.File, error) {
	br, ok, err := b.storeBlob(ctx, p)
	if !ok {
		return b.BlocksBackend.GetBlock(ctx, p)
	}
	if err != nil {
		return b.meta(p), nil, err
	}
	return b.meta(p), newBlobFile(br), nil
}

// Head implements boxo's IPFSBackend.
func (b *ipfsBackend) Head(ctx context.Context, p path.ImmutablePath) (boxogw.ContentPathMetadata, *boxogw.HeadResponse, error) {
	br, ok, err := b.storeBlob(ctx, p)
	if !ok {
		return b.BlocksBackend.Head(ctx, p)
	}
	if err != nil {
		return b.meta(p), nil, err
	}
	return b.meta(p), boxogw.NewHeadResponseForFile(newBlobFile(br), int64(br.Size())), nil
}

// GetCAR implements boxo's IPFSBackend. A BLAKE3 raw CID alone is one
// block whatever the CAR parameters: its CARv1 (header, then the block) is
// streamed from the store.
func (b *ipfsBackend) GetCAR(ctx context.Context, p path.ImmutablePath, params boxogw.CarParams) (boxogw.ContentPathMetadata, io.ReadCloser, error) {
	br, ok, err := b.storeBlob(ctx, p)
	if !ok {
		return b.BlocksBackend.GetCAR(ctx, p, params)
	}
	if err != nil {
		return b.meta(p), nil, err
	}
	c := p.RootCid()
	cb := c.Bytes()
	root := append([]byte{0}, cb...) // CID as a dag-cbor link: tag 42, identity multibase prefix
	hdr := append([]byte{0xa2, 0x65}, "roots"...)
	hdr = append(hdr, 0x81, 0xd8, 0x2a, 0x58, byte(len(root)))
	hdr = append(hdr, root...)
	hdr = append(hdr, 0x67)
	hdr = append(hdr, "version"...)
	hdr = append(hdr, 0x01)
	pre := binary.AppendUvarint(nil, uint64(len(hdr)))
	pre = append(pre, hdr...)
	pre = binary.AppendUvarint(pre, uint64(len(cb))+br.Size())
	pre = append(pre, cb...)
	rd := io.MultiReader(bytes.NewReader(pre), io.NewSectionReader(br.Data(), 0, int64(br.Size())))
	return b.meta(p), readCloser{rd, br}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// blobFile is a complete blob as a boxo files.File.
type blobFile struct {
	*io.SectionReader
	br blobs.BlobReader
}

func newBlobFile(br blobs.BlobReader) *blobFile {
	return &blobFile{SectionReader: io.NewSectionReader(br.Data(), 0, int64(br.Size())), br: br}
}

func (f *blobFile) Close() error         { return f.br.Close() }
func (f *blobFile) Mode() os.FileMode    { return 0 }
func (f *blobFile) ModTime() time.Time   { return time.Time{} }
func (f *blobFile) Size() (int64, error) { return f.SectionReader.Size(), nil }

func newIPFSHandler(s blobs.Store, o *IPFSOptions, log *slog.Logger) (http.Handler, error) {
	opts := *o
	if opts.MaxBlockSize < 0 {
		return nil, fmt.Errorf("gateway: negative MaxBlockSize %d", opts.MaxBlockSize)
	}
	if opts.MaxBlockSize == 0 {
		opts.MaxBlockSize = 4 << 20
	}
	if opts.RetrievalTimeout == 0 {
		opts.RetrievalTimeout = time.Minute
	}
	idx := &cidIndex{s: s}
	if err := idx.reload(context.Background(), true); err != nil {
		return nil, fmt.Errorf("gateway: load CID index: %w", err)
	}
	bs := blockstore.NewIdStore(&blockStore{s: s, idx: idx, max: opts.MaxBlockSize})
	bsvc := blockservice.New(bs, nil)
	bb, err := boxogw.NewBlocksBackend(bsvc)
	if err != nil {
		return nil, err
	}
	backend := &ipfsBackend{BlocksBackend: bb, s: s, idx: idx}
	h := boxogw.NewHandler(boxogw.Config{
		DeserializedResponses: !opts.TrustlessOnly,
		NoDNSLink:             true,
		DisableHTMLErrors:     true,
		RetrievalTimeout:      opts.RetrievalTimeout,
	}, backend)
	return h, nil
}

// ImportCAR reads a CAR (v1 or v2) from r and stores every block as a blob
// after checking that its data hashes to its CID (any multihash the
// multihash registry knows: sha2-256, BLAKE3, ...), indexing it so that
// /ipfs serves it. It returns the CAR's roots and the number of blocks
// stored. A block that does not verify stops the import with an error;
// the blocks before it stay.
func ImportCAR(ctx context.Context, s blobs.Store, r io.Reader) ([]cid.Cid, int, error) {
	return importCAR(ctx, s, &cidIndex{s: s}, r)
}
