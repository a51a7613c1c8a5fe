package fastcgi

import "bytes"

// stderrSink consumes the FCGI_STDERR stream of one exchange: it keeps the
// first keep bytes (for the error log), counts every byte, refuses more
// than limit bytes in total, and looks for the failure patterns across
// record boundaries without storing the stream.
type stderrSink struct {
	keep     int
	limit    int64
	patterns [][]byte
	maxPat   int

	kept    []byte
	total   int64
	tail    []byte // the last maxPat-1 bytes seen, for matches across records
	matched []byte // the first pattern found, nil if none
}

func newStderrSink(keep int, limit int64, patterns [][]byte) *stderrSink {
	s := &stderrSink{keep: keep, limit: limit, patterns: patterns}
	for _, p := range patterns {
		s.maxPat = max(s.maxPat, len(p))
	}
	return s
}

// write consumes one record's content; it returns false when the stream
// exceeded its limit.
func (s *stderrSink) write(b []byte) bool {
	s.total += int64(len(b))
	if room := s.keep - len(s.kept); room > 0 {
		s.kept = append(s.kept, b[:min(room, len(b))]...)
	}
	if len(s.patterns) > 0 && s.matched == nil {
		s.scan(b)
	}
	return s.limit <= 0 || s.total <= s.limit
}

func (s *stderrSink) scan(b []byte) {
	window := b
	if len(s.tail) > 0 {
		window = append(s.tail, b...)
	}
	for _, p := range s.patterns {
		if bytes.Contains(window, p) {
			s.matched = p
			return
		}
	}
	if n := s.maxPat - 1; n > 0 {
		if len(window) > n {
			window = window[len(window)-n:]
		}
		s.tail = append(s.tail[:0], window...)
	}
}
