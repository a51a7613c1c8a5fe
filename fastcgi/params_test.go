package fastcgi

import (
	"strings"
	"testing"
)

func TestParamsRoundTrip(t *testing.T) {
	long := strings.Repeat("v", 300)
	var p Params
	p.Add("SCRIPT_NAME", "/index.php")
	p.Add("EMPTY", "")
	p.Add(strings.Repeat("N", 128), long)
	p.Add("X", strings.Repeat("y", 127))
	got, ok := DecodeParams(p.Bytes())
	if !ok || p.Len() != 4 || len(got) != 4 {
		t.Fatalf("decode: ok=%v len=%d pairs=%d", ok, p.Len(), len(got))
	}
	want := [][2]string{{"SCRIPT_NAME", "/index.php"}, {"EMPTY", ""}, {strings.Repeat("N", 128), long}, {"X", strings.Repeat("y", 127)}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pair %d = %q, want %q", i, got[i], want[i])
		}
	}
	// 127 is the largest one-byte length, 128 the smallest four-byte one.
	if b := p.Bytes(); b[0] != 11 {
		t.Errorf("short length byte = %d", b[0])
	}
	p.Reset()
	if p.Len() != 0 || len(p.Bytes()) != 0 {
		t.Fatal("Reset left pairs")
	}
}

func TestDecodeParamsRefusesMalformed(t *testing.T) {
	for _, b := range [][]byte{{5}, {0x80, 0, 0}, {1, 5, 'a'}, {0x80, 0, 0, 9, 0}} {
		if _, ok := DecodeParams(b); ok {
			t.Errorf("DecodeParams(%v) accepted", b)
		}
	}
}
