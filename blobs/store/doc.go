// Package store holds what the blob stores share: the Store interface
// (declared in package blobs to avoid an import cycle, aliased here), temp
// tag counting, the GC live-set computation (spec §11), change notification
// for Observe, and the operations built on any Store: importing a directory
// as a Collection (AddDir), loading and exporting collections.
//
// Implementations: blobs/store/mem (in memory) and blobs/store/fs (files
// plus a bbolt index, crash-safe and resumable).
package store
