package ipc

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestHeaderLayout(t *testing.T) {
	b := frame(header{typ: MsgReopen, flags: flagMemfd, seq: 0x01020304, nfds: 0x0506, length: 0x0708090a}, nil)
	want := []byte{
		'F', 'X', 'H', '1',
		1, 0, // version
		6, 0, // type
		1, 0, // flags
		4, 3, 2, 1, // seq
		6, 5, // nfds
		0x0a, 9, 8, 7, // length
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("header % x\nwant      % x", b, want)
	}
}

// unsealedMemfd returns a memfd holding b without any seal.
func unsealedMemfd(t *testing.T, b []byte) int {
	t.Helper()
	fd, err := unix.MemfdCreate("test", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAll(fd, b); err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestMalformedFramesAreRejected(t *testing.T) {
	m, peer := rawPair(t)
	stats := []byte(`{"active":1}`)
	good := header{typ: MsgStats, seq: 1, length: uint32(len(stats))}
	with := func(f func(*header)) header { h := good; f(&h); return h }
	badVersion := frame(good, stats)
	badVersion[4] = 2
	badMagic := frame(good, stats)
	copy(badMagic, "FXH0")
	sealed := func(t *testing.T, b []byte) int {
		fd, err := sealedMemfd(b)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}

	cases := []struct {
		name string
		// build returns the datagram and the fds to attach; the test
		// closes the sender's copies of those fds.
		build func(t *testing.T) ([]byte, []int)
	}{
		{"short", func(t *testing.T) ([]byte, []int) { return []byte("FXH1\x01\x00"), nil }},
		{"short with fds", func(t *testing.T) ([]byte, []int) { return []byte("FX"), rawNulls(t, 2) }},
		{"bad magic", func(t *testing.T) ([]byte, []int) { return badMagic, rawNulls(t, 1) }},
		{"bad version", func(t *testing.T) ([]byte, []int) { return badVersion, nil }},
		{"type 0", func(t *testing.T) ([]byte, []int) { return frame(with(func(h *header) { h.typ = 0 }), stats), nil }},
		{"unknown flag", func(t *testing.T) ([]byte, []int) {
			return frame(with(func(h *header) { h.flags = 2 }), stats), nil
		}},
		{"nfds larger than sent", func(t *testing.T) ([]byte, []int) {
			return frame(with(func(h *header) { h.nfds = 2 }), stats), rawNulls(t, 1)
		}},
		{"nfds smaller than sent", func(t *testing.T) ([]byte, []int) {
			return frame(with(func(h *header) { h.nfds = 1 }), stats), rawNulls(t, 3)
		}},
		{"nfds over limit", func(t *testing.T) ([]byte, []int) {
			return frame(with(func(h *header) { h.nfds = MaxFDs + 1 }), stats), rawNulls(t, MaxFDs+1)
		}},
		{"truncated payload", func(t *testing.T) ([]byte, []int) {
			b := frame(with(func(h *header) { h.length = 100; h.nfds = 1 }), bytes.Repeat([]byte("x"), 100))
			return b[:HeaderLen+50], rawNulls(t, 1)
		}},
		{"payload longer than announced", func(t *testing.T) ([]byte, []int) {
			return frame(with(func(h *header) { h.length = 3 }), stats), nil
		}},
		{"frame over 64 KiB", func(t *testing.T) ([]byte, []int) {
			body := bytes.Repeat([]byte("x"), MaxFrame)
			return frame(with(func(h *header) { h.length = uint32(len(body)); h.nfds = 2 }), body), rawNulls(t, 2)
		}},
		{"more fds than the control buffer", func(t *testing.T) ([]byte, []int) {
			// SCM_MAX_FD is 253; the receiver has room for MaxFDs+1.
			return frame(with(func(h *header) { h.nfds = 253 }), stats), rawNulls(t, 253)
		}},
		{"memfd flag without fd", func(t *testing.T) ([]byte, []int) {
			return frame(with(func(h *header) { h.flags = flagMemfd }), nil), nil
		}},
		{"memfd flag with inline bytes", func(t *testing.T) ([]byte, []int) {
			return frame(with(func(h *header) { h.flags = flagMemfd }), stats), []int{sealed(t, stats)}
		}},
		{"memfd unsealed", func(t *testing.T) ([]byte, []int) {
			return frame(with(func(h *header) { h.flags = flagMemfd; h.nfds = 1 }), nil),
				[]int{rawNulls(t, 1)[0], unsealedMemfd(t, stats)}
		}},
		{"memfd size mismatch", func(t *testing.T) ([]byte, []int) {
			return frame(with(func(h *header) { h.flags = flagMemfd; h.length = 5 }), nil), []int{sealed(t, stats)}
		}},
		{"memfd over 64 MiB", func(t *testing.T) ([]byte, []int) {
			return frame(with(func(h *header) { h.flags = flagMemfd; h.length = MaxPayload + 1 }), nil), []int{sealed(t, stats)}
		}},
		{"payload fd is not a memfd", func(t *testing.T) ([]byte, []int) {
			return frame(with(func(h *header) { h.flags = flagMemfd }), nil), rawNulls(t, 1)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := countFDs(t)
			b, fds := tc.build(t)
			sendRaw(t, peer, b, fds)
			closeFDs(fds) // the sender's copies
			msg, err := m.Recv()
			if err == nil {
				msg.CloseFiles()
				t.Fatalf("accepted: %s %d files", msg.Type, len(msg.Files))
			}
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("Recv = %v, want ErrProtocol", err)
			}
			t.Log(err)
			if after := countFDs(t); after != before {
				t.Fatalf("open fds: %d before, %d after: received fds leaked", before, after)
			}
		})
	}

	// The channel survives a rejected frame: the next good one arrives.
	f := devNulls(t, 1)[0]
	defer f.Close()
	sendRaw(t, peer, frame(with(func(h *header) { h.nfds = 1 }), stats), fdsOf(t, []*os.File{f}))
	msg, err := m.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var s Stats
	if err := msg.Decode(&s); err != nil || s.Active != 1 || len(msg.Files) != 1 {
		t.Fatalf("good frame after bad ones: %+v %d files, %v", s, len(msg.Files), err)
	}
	msg.CloseFiles()
}

func FuzzParseFrame(f *testing.F) {
	f.Add(frame(header{typ: MsgStats, seq: 1, length: 2}, []byte("{}")), 0)
	f.Add(frame(header{typ: MsgInit, flags: flagMemfd, nfds: 1, length: 1 << 20}, nil), 2)
	f.Add([]byte("FXH1"), 0)
	f.Fuzz(func(t *testing.T, b []byte, nfds int) {
		h, body, err := parseFrame(b, nfds)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
			return
		}
		if h.typ == 0 || len(b) < HeaderLen {
			t.Fatalf("accepted %+v from %d bytes", h, len(b))
		}
		want := int(h.nfds)
		if h.flags&flagMemfd != 0 {
			want++
			if len(body) != 0 || h.length > MaxPayload {
				t.Fatalf("memfd frame accepted with %d inline bytes, length %d", len(body), h.length)
			}
		} else if int(h.length) != len(body) {
			t.Fatalf("length %d, body %d", h.length, len(body))
		}
		if want != nfds {
			t.Fatalf("nfds %d accepted with %d fds", want, nfds)
		}
		// Re-encoding the header gives back the same bytes.
		if again := frame(h, body); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded frame differs")
		}
	})
}
