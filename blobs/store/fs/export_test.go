package fs

// OutboardRehashesForTest returns how many finished downloads had their
// outboard computed from the data instead of from the received pairs.
func OutboardRehashesForTest(s *Store) int64 { return s.outboardRehashes.Load() }
