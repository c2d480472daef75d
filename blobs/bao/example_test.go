package bao_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/iroh-go/iroh/blobs/bao"
)

// A provider encodes chunks 16..48 of a 1 MiB blob; the getter verifies
// them as they arrive.
func Example() {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i % 251)
	}
	root, outboard := bao.OutboardBytes(data)
	ranges := bao.Range(16, 48)

	var stream bytes.Buffer
	if err := bao.Encode(&stream, bytes.NewReader(data), uint64(len(data)), bytes.NewReader(outboard), ranges); err != nil {
		panic(err)
	}
	fmt.Println("response bytes:", stream.Len(), bao.EncodedLen(uint64(len(data)), ranges))

	d := bao.NewDecoder(&stream, root, ranges)
	var parents, leaves int
	var verified bao.ChunkRanges
	for {
		it, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		if it.Kind == bao.ItemLeaf {
			leaves++
			verified = verified.Union(it.Chunks())
		} else {
			parents++
		}
	}
	size, _ := d.Size()
	fmt.Println("size:", size, "verified:", d.SizeVerified())
	fmt.Println("parents:", parents, "leaves:", leaves, "chunks:", verified)
	// Output:
	// response bytes: 33224 33224
	// size: 1048576 verified: false
	// parents: 7 leaves: 2 chunks: 16..48
}
