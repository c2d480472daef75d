package store

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/iroh-go/iroh/blobs"
)

// AddDir imports every regular file under dir (streamed, by copy) and makes
// them a Collection named by their '/'-separated paths relative to dir's
// parent, so the collection's names start with dir's own name ("photos/a.jpg")
// and the directory arrives under that name. It returns the collection and a
// TempTag for its root; the children stay protected through the root.
func AddDir(ctx context.Context, s Store, dir string) (blobs.Collection, *blobs.TempTag, error) {
	dir = filepath.Clean(dir)
	base := filepath.Base(dir)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("add dir %s: %w", dir, err)
	}
	sort.Strings(files)
	var c blobs.Collection
	var tags []*blobs.TempTag
	defer func() {
		for _, t := range tags {
			t.Close()
		}
	}()
	for _, p := range files {
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return nil, nil, err
		}
		tt, err := s.AddFile(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		tags = append(tags, tt)
		c = append(c, blobs.CollectionEntry{Name: path.Join(base, filepath.ToSlash(rel)), Hash: tt.Hash()})
	}
	root, err := AddCollection(ctx, s, c)
	if err != nil {
		return nil, nil, err
	}
	return c, root, nil
}

// AddCollection stores the metadata blob and hash seq of c (its members must
// already be in s) and returns a TempTag for the collection root.
func AddCollection(ctx context.Context, s Store, c blobs.Collection) (*blobs.TempTag, error) {
	meta, err := s.AddBytes(ctx, c.MetaBlob())
	if err != nil {
		return nil, err
	}
	defer meta.Close()
	seq, err := s.AddBytes(ctx, c.HashSeq().Bytes())
	if err != nil {
		return nil, err
	}
	defer seq.Close()
	return s.TempTag(blobs.HashAndFormat{Hash: seq.Hash(), Format: blobs.HashSeqFormat}), nil
}

// ReadBlob reads a complete blob of at most max bytes into memory.
func ReadBlob(ctx context.Context, s Store, h blobs.Hash, max uint64) ([]byte, error) {
	r, err := s.OpenReader(ctx, h)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if r.Size() > max {
		return nil, fmt.Errorf("blob %s: size %d exceeds limit %d", h.ShortString(), r.Size(), max)
	}
	b := make([]byte, r.Size())
	if _, err := r.Data().ReadAt(b, 0); err != nil && len(b) > 0 {
		return nil, fmt.Errorf("blob %s: read: %w", h.ShortString(), err)
	}
	return b, nil
}

// ReadCollectionSeq reads the hash sequence at the root of a collection
// from s: its first hash names the metadata blob, so it is never empty.
func ReadCollectionSeq(ctx context.Context, s Store, root blobs.Hash) (blobs.HashSeq, error) {
	b, err := ReadBlob(ctx, s, root, blobs.MaxCollectionMetaSize)
	if err != nil {
		return nil, err
	}
	seq, err := blobs.ParseHashSeq(b)
	if err != nil {
		return nil, err
	}
	if len(seq) == 0 {
		return nil, fmt.Errorf("collection %s: empty hash seq", root.ShortString())
	}
	return seq, nil
}

// LoadCollection reads a complete collection from s.
func LoadCollection(ctx context.Context, s Store, root blobs.Hash) (blobs.Collection, error) {
	seq, err := ReadCollectionSeq(ctx, s, root)
	if err != nil {
		return nil, err
	}
	meta, err := ReadBlob(ctx, s, seq[0], blobs.MaxCollectionMetaSize)
	if err != nil {
		return nil, err
	}
	return blobs.NewCollectionFromParts(seq, meta)
}

// SafeName checks that a collection name is a relative path that stays
// inside the output directory and returns it in OS form.
func SafeName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("collection name %q is not a safe relative path", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return "", fmt.Errorf("collection name %q is not a safe relative path", name)
		}
	}
	p := filepath.FromSlash(name)
	if !filepath.IsLocal(p) {
		return "", fmt.Errorf("collection name %q is not a safe relative path", name)
	}
	return p, nil
}

// ExportCollection writes every member of c under dir by its name.
func ExportCollection(ctx context.Context, s Store, c blobs.Collection, dir string) error {
	for _, e := range c {
		rel, err := SafeName(e.Name)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("export %s: %w", e.Name, err)
		}
		if err := s.ExportFile(ctx, e.Hash, p); err != nil {
			return fmt.Errorf("export %s: %w", e.Name, err)
		}
	}
	return nil
}
