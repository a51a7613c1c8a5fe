package fastcgi

import "testing"

func TestStderrSinkMatchesAcrossRecords(t *testing.T) {
	s := newStderrSink(4, 0, [][]byte{[]byte("PHP Fatal error")})
	for _, part := range []string{"warning: x\nPHP Fat", "al", " error: boom"} {
		s.write([]byte(part))
	}
	if s.matched == nil {
		t.Fatal("pattern split over three records was not found")
	}
	if string(s.kept) != "warn" || s.total != 32 {
		t.Fatalf("kept %q total %d", s.kept, s.total)
	}
}

func TestStderrSinkLimit(t *testing.T) {
	s := newStderrSink(2, 5, nil)
	if !s.write([]byte("12345")) || s.write([]byte("6")) {
		t.Fatal("limit of 5 bytes not enforced exactly")
	}
}

func TestStderrSinkNoFalseMatch(t *testing.T) {
	s := newStderrSink(0, 0, [][]byte{[]byte("abc")})
	for _, part := range []string{"ab", "xc", "a", "bx"} {
		s.write([]byte(part))
	}
	if s.matched != nil {
		t.Fatal("matched a pattern that never appeared")
	}
}
