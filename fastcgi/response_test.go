package fastcgi

import (
	"net/http"
	"reflect"
	"testing"
)

func TestHeaderEnd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"A: b\r\n\r\nbody", 8},
		{"A: b\n\nbody", 6},
		{"A: b\n\r\nbody", 7},
		{"A: b\r\nC: d\r\n", -1},
		{"\r\nbody", 2},
		{"\nbody", 1},
		{"A: b\r\n\r", -1},
	} {
		if got := headerEnd([]byte(tc.in), 0); got != tc.want {
			t.Errorf("headerEnd(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestParseHeaderAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		status   int
		header   http.Header
	}{
		{"plain", "Content-type: text/html\r\n\r\n", 200, http.Header{"Content-Type": {"text/html"}}},
		{"status with reason", "Status: 404 Not Found\r\nX-A: 1\r\n\r\n", 404, http.Header{"X-A": {"1"}}},
		{"bare status", "Status: 503\n\n", 503, http.Header{}},
		{"location is 302", "Location: /x\r\n\r\n", 302, http.Header{"Location": {"/x"}}},
		{"status wins over location", "Status: 301\r\nLocation: /x\r\n\r\n", 301, http.Header{"Location": {"/x"}}},
		{"repeated names kept in order", "Set-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n", 200, http.Header{"Set-Cookie": {"a=1", "b=2"}}},
		{"OWS and tab and obs-text", "X-A:\t a\tb \xff \r\n\r\n", 200, http.Header{"X-A": {"a\tb \xff"}}},
		{"empty value", "X-Empty:\r\n\r\n", 200, http.Header{"X-Empty": {""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, h, err := parseHeader([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if st != tc.status || !reflect.DeepEqual(h, tc.header) {
				t.Fatalf("got %d %v, want %d %v", st, h, tc.status, tc.header)
			}
		})
	}
}

func TestParseHeaderRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"CR inside value":      "X-A: a\rb\r\n\r\n",
		"bare CR line end":     "X-A: a\r\rX-B: c\r\n\r\n",
		"NUL":                  "X-A: a\x00b\r\n\r\n",
		"control byte":         "X-A: a\x01\r\n\r\n",
		"DEL":                  "X-A: a\x7f\r\n\r\n",
		"obs-fold":             "X-A: a\r\n b\r\n\r\n",
		"no colon":             "garbage\r\n\r\n",
		"space before colon":   "X-A : a\r\n\r\n",
		"empty name":           ": a\r\n\r\n",
		"name with space":      "X A: a\r\n\r\n",
		"status 1xx":           "Status: 100 Continue\r\n\r\n",
		"status 600":           "Status: 600\r\n\r\n",
		"status letters":       "Status: 2OO\r\n\r\n",
		"status no space":      "Status: 200OK\r\n\r\n",
		"duplicate status":     "Status: 200\r\nStatus: 500\r\n\r\n",
		"empty header section": "\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := parseHeader([]byte(in)); KindOf(err) != KindInvalidResponse {
				t.Fatalf("want an invalid response, got %v", err)
			}
		})
	}
}
