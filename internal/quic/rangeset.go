package quic

// byteRange is the half-open interval [start, end) of stream offsets or
// packet numbers.
type byteRange struct {
	start, end uint64
}

func (r byteRange) len() uint64 { return r.end - r.start }

// rangeSet is a sorted set of disjoint, non-adjacent half-open ranges. When
// max is positive and an insertion would make more ranges than max, the
// lowest ranges are dropped (for ACK ranges the oldest matter least);
// callers that must not forget anything (stream reassembly) bound the
// number of ranges themselves and check the result of add.
type rangeSet struct {
	r   []byteRange
	max int
}

func (s *rangeSet) empty() bool { return len(s.r) == 0 }

// min returns the lowest value in the set; the set must not be empty.
func (s *rangeSet) min() uint64 { return s.r[0].start }

// max returns one past the highest value; the set must not be empty.
func (s *rangeSet) maxEnd() uint64 { return s.r[len(s.r)-1].end }

// contains reports whether v is in the set.
func (s *rangeSet) contains(v uint64) bool {
	i := s.search(v)
	return i < len(s.r) && s.r[i].start <= v
}

// containsRange reports whether all of [start, end) is in the set.
func (s *rangeSet) containsRange(start, end uint64) bool {
	if start >= end {
		return true
	}
	i := s.search(start)
	return i < len(s.r) && s.r[i].start <= start && s.r[i].end >= end
}

// search returns the index of the first range whose end is above v.
func (s *rangeSet) search(v uint64) int {
	lo, hi := 0, len(s.r)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.r[m].end <= v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// add inserts [start, end), merging with neighbours.
func (s *rangeSet) add(start, end uint64) {
	if start >= end {
		return
	}
	n := len(s.r)
	// Fast path: append at or past the end (in-order data, ascending
	// packet numbers).
	if n == 0 || start > s.r[n-1].end {
		s.r = append(s.r, byteRange{start, end})
		s.trim()
		return
	}
	if start >= s.r[n-1].start {
		if end > s.r[n-1].end {
			s.r[n-1].end = end
		}
		return
	}
	// First range that ends at or after start (touching counts).
	i := 0
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.r[m].end < start {
			lo = m + 1
		} else {
			hi = m
		}
	}
	i = lo
	// Last range that starts at or before end.
	j := i
	for j < n && s.r[j].start <= end {
		j++
	}
	if i == j {
		s.r = append(s.r, byteRange{})
		copy(s.r[i+1:], s.r[i:])
		s.r[i] = byteRange{start, end}
		s.trim()
		return
	}
	if s.r[i].start < start {
		start = s.r[i].start
	}
	if s.r[j-1].end > end {
		end = s.r[j-1].end
	}
	s.r[i] = byteRange{start, end}
	s.r = append(s.r[:i+1], s.r[j:]...)
}

// remove deletes [start, end) from the set.
func (s *rangeSet) remove(start, end uint64) {
	if start >= end || len(s.r) == 0 {
		return
	}
	i := s.search(start)
	for i < len(s.r) && s.r[i].start < end {
		r := s.r[i]
		switch {
		case r.start >= start && r.end <= end:
			s.r = append(s.r[:i], s.r[i+1:]...)
			continue
		case r.start < start && r.end > end:
			s.r = append(s.r, byteRange{})
			copy(s.r[i+2:], s.r[i+1:])
			s.r[i] = byteRange{r.start, start}
			s.r[i+1] = byteRange{end, r.end}
			s.trim()
			return
		case r.start < start:
			s.r[i].end = start
		default:
			s.r[i].start = end
		}
		i++
	}
}

// removeBelow deletes everything below v.
func (s *rangeSet) removeBelow(v uint64) {
	i := 0
	for i < len(s.r) && s.r[i].end <= v {
		i++
	}
	if i > 0 {
		s.r = append(s.r[:0], s.r[i:]...)
	}
	if len(s.r) > 0 && s.r[0].start < v {
		s.r[0].start = v
	}
}

func (s *rangeSet) trim() {
	if s.max > 0 && len(s.r) > s.max {
		d := len(s.r) - s.max
		s.r = append(s.r[:0], s.r[d:]...)
	}
}

// numRanges returns how many disjoint ranges the set holds.
func (s *rangeSet) numRanges() int { return len(s.r) }
