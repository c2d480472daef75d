// Package mem is an in-memory blob store, for tests and short-lived use. It
// implements blobs.Store; everything is lost on Close. Imports read the
// whole input into memory. Safe for concurrent use.
package mem
