package static

import (
	"io"
	"math"
	"mime"
	"mime/multipart"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	const size = 100
	type br = byteRange
	for _, tc := range []struct {
		in   string
		max  int
		want []byteRange
		res  rangeResult
	}{
		{"bytes=0-9", 16, []br{{0, 10}}, rangeOK},
		{"bytes=90-", 16, []br{{90, 10}}, rangeOK},
		{"bytes=-5", 16, []br{{95, 5}}, rangeOK},
		{"bytes=-500", 16, []br{{0, 100}}, rangeOK},
		{"bytes=95-200", 16, []br{{95, 5}}, rangeOK},
		{"bytes=0-0", 16, []br{{0, 1}}, rangeOK},
		{"bytes=99-99", 16, []br{{99, 1}}, rangeOK},
		{"Bytes=0-1", 16, []br{{0, 2}}, rangeOK},
		{" bytes = 0-1 , 5-6 ", 16, []br{{0, 2}, {5, 2}}, rangeOK},
		{"bytes=0-1,,5-6,", 16, []br{{0, 2}, {5, 2}}, rangeOK},
		{"bytes=0-1,200-300", 16, []br{{0, 2}}, rangeOK},
		{"bytes=0-99999999999999999999999", 16, []br{{0, 100}}, rangeOK},
		{"bytes=100-", 16, nil, rangeUnsatisfiable},
		{"bytes=100-200", 16, nil, rangeUnsatisfiable},
		{"bytes=-0", 16, nil, rangeUnsatisfiable},
		{"bytes=99999999999999999999999-", 16, nil, rangeUnsatisfiable},
		{"bytes=5-2", 16, nil, rangeIgnore},
		{"bytes=abc", 16, nil, rangeIgnore},
		{"bytes=1-2-3", 16, nil, rangeIgnore},
		{"bytes=-", 16, nil, rangeIgnore},
		{"bytes=+1-2", 16, nil, rangeIgnore},
		{"bytes=0x1-2", 16, nil, rangeIgnore},
		{"bytes=", 16, nil, rangeIgnore},
		{"bytes=,", 16, nil, rangeIgnore},
		{"bytes", 16, nil, rangeIgnore},
		{"items=0-5", 16, nil, rangeIgnore},
		{"bytes=0-1,0-1,0-1", 2, nil, rangeIgnore},           // too many
		{"bytes=0-99,0-99", 16, nil, rangeIgnore},            // amplification
		{"bytes=0-50,40-99", 16, nil, rangeIgnore},           // overlap > size
		{"bytes=0-1,5-", 16, []br{{0, 2}, {5, 95}}, rangeOK}, // 97 ≤ 100
		{"bytes=200-300,0-1,0-1,0-1", 3, nil, rangeIgnore},   // unsatisfiable specs count too
	} {
		got, res := parseRange(tc.in, size, tc.max, nil)
		if res != tc.res || (res == rangeOK && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("parseRange(%q) = %v, %v; want %v, %v", tc.in, got, res, tc.want, tc.res)
		}
	}
	if _, res := parseRange("bytes=0-1", 0, 16, nil); res != rangeIgnore {
		t.Errorf("empty representation: %v", res)
	}
	if n, ok := parseDigits("99999999999999999999"); !ok || n != math.MaxInt64 {
		t.Errorf("saturation: %d %v", n, ok)
	}
}

func TestRanges(t *testing.T) {
	body := strings.Repeat("0123456789", 10) // 100 bytes
	for _, small := range []int64{0, -1} {
		h, _, _ := newHandler(t, Options{SmallFileMax: small, MaxRanges: 4}, tree{"f.txt": body, "empty.txt": ""})
		name := "memory"
		if small < 0 {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				rng    string
				method string
				status int
				cr     string   // Content-Range
				body   string   // single part or full body
				parts  []string // multipart: "range|body"
			}{
				{"bytes=0-9", "GET", 206, "bytes 0-9/100", body[:10], nil},
				{"bytes=90-", "GET", 206, "bytes 90-99/100", body[90:], nil},
				{"bytes=-5", "GET", 206, "bytes 95-99/100", body[95:], nil},
				{"bytes=-500", "GET", 206, "bytes 0-99/100", body, nil},
				{"bytes=95-200", "GET", 206, "bytes 95-99/100", body[95:], nil},
				{"bytes=100-", "GET", 416, "bytes */100", "", nil},
				{"bytes=-0", "GET", 416, "bytes */100", "", nil},
				{"bytes=5-2", "GET", 200, "", body, nil},
				{"items=0-5", "GET", 200, "", body, nil},
				{"bytes=0-1,0-1,0-1,0-1,0-1", "GET", 200, "", body, nil},
				{"bytes=0-99,0-99", "GET", 200, "", body, nil},
				{"bytes=0-9", "HEAD", 200, "", "", nil},
				{"bytes=0-1,5-6,-3", "GET", 206, "", "", []string{"bytes 0-1/100|01", "bytes 5-6/100|56", "bytes 97-99/100|789"}},
				{"bytes=0-1,500-600", "GET", 206, "bytes 0-1/100", "01", nil},
			} {
				w, _ := serve(h, tc.method, "/f.txt", map[string]string{"Range": tc.rng})
				if w.Code != tc.status {
					t.Errorf("%s %q: status %d, want %d", tc.method, tc.rng, w.Code, tc.status)
					continue
				}
				if got := w.Header().Get("Content-Range"); got != tc.cr {
					t.Errorf("%q: Content-Range %q, want %q", tc.rng, got, tc.cr)
				}
				if tc.parts == nil {
					if tc.status != 416 && w.Body.String() != tc.body {
						t.Errorf("%q: body %q, want %q", tc.rng, w.Body.String(), tc.body)
					}
					if tc.status == 206 && w.Header().Get("Content-Length") != strconv.Itoa(len(tc.body)) {
						t.Errorf("%q: Content-Length %q", tc.rng, w.Header().Get("Content-Length"))
					}
					continue
				}
				mt, params, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
				if err != nil || mt != "multipart/byteranges" || params["boundary"] == "" {
					t.Fatalf("%q: Content-Type %q", tc.rng, w.Header().Get("Content-Type"))
				}
				if cl := w.Header().Get("Content-Length"); cl != strconv.Itoa(w.Body.Len()) {
					t.Errorf("%q: Content-Length %s, body %d", tc.rng, cl, w.Body.Len())
				}
				mr := multipart.NewReader(w.Body, params["boundary"])
				var got []string
				for {
					p, err := mr.NextPart()
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("%q: %v", tc.rng, err)
					}
					b, _ := io.ReadAll(p)
					if p.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
						t.Errorf("part Content-Type %q", p.Header.Get("Content-Type"))
					}
					got = append(got, p.Header.Get("Content-Range")+"|"+string(b))
				}
				if !reflect.DeepEqual(got, tc.parts) {
					t.Errorf("%q: parts %q, want %q", tc.rng, got, tc.parts)
				}
			}
			if w, _ := serve(h, "GET", "/empty.txt", map[string]string{"Range": "bytes=0-1"}); w.Code != 200 {
				t.Errorf("empty file with Range: %d", w.Code)
			}
		})
	}
}
