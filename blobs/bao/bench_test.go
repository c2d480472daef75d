package bao

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// benchSize is the blob size of the benchmarks; run with -bao.benchsize=1073741824
// for the 1 GiB figures.
var benchSize = flag.Int("bao.benchsize", 64<<20, "blob size for bao benchmarks")

var benchOnce sync.Once
var benchData, benchOb, benchResp []byte
var benchRoot [32]byte

func benchSetup(b *testing.B) {
	benchOnce.Do(func() {
		benchData = make([]byte, *benchSize)
		for i := range benchData {
			benchData[i] = byte(i*7 + i>>13)
		}
		benchRoot, benchOb = OutboardBytes(benchData)
		var buf bytes.Buffer
		buf.Grow(int(EncodedLen(uint64(len(benchData)), All())))
		if err := Encode(&buf, bytes.NewReader(benchData), uint64(len(benchData)), bytes.NewReader(benchOb), All()); err != nil {
			panic(err)
		}
		benchResp = buf.Bytes()
	})
	b.ReportAllocs()
	b.SetBytes(int64(len(benchData)))
	b.ResetTimer()
}

func reportGBs(b *testing.B) {
	b.ReportMetric(float64(len(benchData))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

// BenchmarkHash is the baseline: plain BLAKE3 with zeebo/blake3 (one core).
func BenchmarkHash(b *testing.B) {
	benchSetup(b)
	for b.Loop() {
		Sum(benchData)
	}
	reportGBs(b)
}

// BenchmarkOutboard computes hash + pre-order outboard in memory on all cores.
func BenchmarkOutboard(b *testing.B) {
	benchSetup(b)
	for b.Loop() {
		OutboardBytes(benchData)
	}
	reportGBs(b)
}

// BenchmarkOutboard1Core is BenchmarkOutboard on a single worker.
func BenchmarkOutboard1Core(b *testing.B) {
	benchSetup(b)
	ob := make(sliceWriterAt, len(benchOb))
	for b.Loop() {
		_, err := computeOutboard(context.Background(), uint64(len(benchData)), ob, 1, func(k uint64, n int, _ []byte) ([]byte, error) {
			return benchData[k*taskBytes : k*taskBytes+uint64(n)], nil
		}, false)
		if err != nil {
			b.Fatal(err)
		}
	}
	reportGBs(b)
}

// BenchmarkOutboardFile computes the outboard of a file (page cache) into a
// file, as a store does on import.
func BenchmarkOutboardFile(b *testing.B) {
	benchSetup(b)
	dir := b.TempDir()
	df, obf := benchFiles(b, dir)
	for b.Loop() {
		if _, err := ComputeOutboard(b.Context(), df, uint64(len(benchData)), obf, 0); err != nil {
			b.Fatal(err)
		}
	}
	reportGBs(b)
}

func benchFiles(b *testing.B, dir string) (*os.File, *os.File) {
	b.Helper()
	dp, op := filepath.Join(dir, "data"), filepath.Join(dir, "obao4")
	if err := os.WriteFile(dp, benchData, 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(op, benchOb, 0o600); err != nil {
		b.Fatal(err)
	}
	df, err := os.Open(dp)
	if err != nil {
		b.Fatal(err)
	}
	obf, err := os.OpenFile(op, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { df.Close(); obf.Close() })
	return df, obf
}

// BenchmarkEncode writes the full-blob response from memory to io.Discard.
func BenchmarkEncode(b *testing.B) {
	benchSetup(b)
	e := NewEncoder()
	dr, obr := bytes.NewReader(benchData), bytes.NewReader(benchOb)
	for b.Loop() {
		if err := e.Encode(io.Discard, dr, uint64(len(benchData)), obr, All()); err != nil {
			b.Fatal(err)
		}
	}
	reportGBs(b)
}

// BenchmarkEncodeFile writes the full-blob response from data and outboard
// files (page cache) to io.Discard, as the provider does.
func BenchmarkEncodeFile(b *testing.B) {
	benchSetup(b)
	df, obf := benchFiles(b, b.TempDir())
	e := NewEncoder()
	for b.Loop() {
		if err := e.Encode(io.Discard, df, uint64(len(benchData)), obf, All()); err != nil {
			b.Fatal(err)
		}
	}
	reportGBs(b)
}

// BenchmarkDecodeVerify reads and verifies a full-blob response from memory.
func BenchmarkDecodeVerify(b *testing.B) {
	benchSetup(b)
	d := NewDecoder(nil, benchRoot, All())
	r := bytes.NewReader(benchResp)
	for b.Loop() {
		r.Reset(benchResp)
		d.Reset(r, benchRoot, All())
		for {
			_, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	reportGBs(b)
}
