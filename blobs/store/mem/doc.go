// Package mem is an in-memory blob store, for tests and short-lived use. It
// implements blobs.Store; everything is lost on Close. Imports read the
// whole input into memory, except AddFileRef, which serves a file in place
// and keeps only its outboard (what 'iroh send' uses). Safe for concurrent
// use.
package mem
