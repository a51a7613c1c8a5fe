package ipc

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRoundTripEveryType(t *testing.T) {
	m, w := newPair(t)
	deadline := time.Date(2026, 3, 1, 12, 30, 15, 123456789, time.UTC)
	cases := []struct {
		name    string
		typ     MsgType
		from    *Conn // sender
		to      *Conn
		payload any // nil: no payload
	}{
		{"init", MsgInit, m, w, &Init{
			Gen: 7, Slot: 2,
			Config:    json.RawMessage(`{"server":{"process":{"workers":4}},"vhosts":[{"domains":["a.example"],"routes":[{"path":"/","static":{"root":"/srv"}}]}]}`),
			Listeners: []Listener{{Key: "tcp:127.0.0.1:8080#2", Addr: "127.0.0.1:8080", FD: 0}},
			AccessLog: -1, ErrorLog: -1,
		}},
		{"ready", MsgReady, w, m, &Ready{Pid: 4242, Gen: 7}},
		{"fatal", MsgFatal, w, m, &Fatal{Error: `listener "tcp:[::1]:443#0": address family not supported`}},
		{"drain", MsgDrain, m, w, &Drain{Deadline: deadline, Retired: []string{"tcp:0.0.0.0:80#0", "tcp:0.0.0.0:80#1"}}},
		{"drain-no-retired", MsgDrain, m, w, &Drain{Deadline: deadline}},
		{"stop", MsgStop, m, w, nil},
		{"reopen", MsgReopen, m, w, &Reopen{AccessLog: 0, ErrorLog: -1}},
		{"stats", MsgStats, w, m, &Stats{Active: 12, Idle: 3, Hijacked: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.from.Send(tc.typ, tc.payload); err != nil {
				t.Fatal(err)
			}
			msg, err := tc.to.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if msg.Type != tc.typ {
				t.Fatalf("type %s, want %s", msg.Type, tc.typ)
			}
			if msg.Seq == 0 {
				t.Error("seq 0")
			}
			if len(msg.Files) != 0 {
				t.Errorf("%d unexpected files", len(msg.Files))
			}
			if tc.payload == nil {
				if len(msg.Payload) != 0 {
					t.Fatalf("payload %q, want none", msg.Payload)
				}
				if err := msg.Decode(&Stats{}); err == nil {
					t.Error("Decode of an empty payload succeeded")
				}
				return
			}
			got := reflect.New(reflect.TypeOf(tc.payload).Elem())
			if err := msg.Decode(got.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Interface(), tc.payload) {
				t.Fatalf("got %+v\nwant %+v", got.Interface(), tc.payload)
			}
		})
	}
}

func TestSeqIncreasesPerSender(t *testing.T) {
	m, w := newPair(t)
	for i := 1; i <= 3; i++ {
		if err := m.Send(MsgStats, Stats{Active: i}); err != nil {
			t.Fatal(err)
		}
		msg, err := w.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if msg.Seq != uint32(i) {
			t.Fatalf("seq %d, want %d", msg.Seq, i)
		}
	}
}

func TestDecodeIsStrict(t *testing.T) {
	cases := []struct {
		name, payload string
		ok            bool
	}{
		{"ok", `{"active":1,"idle":2,"hijacked":3}`, true},
		{"unknown field", `{"active":1,"pid":2}`, false},
		{"trailing data", `{"active":1} {"idle":2}`, false},
		{"wrong type", `{"active":"one"}`, false},
		{"empty", ``, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := &Msg{Type: MsgStats, Payload: []byte(tc.payload)}
			var s Stats
			err := m.Decode(&s)
			if (err == nil) != tc.ok {
				t.Fatalf("Decode(%q) = %v, ok want %v", tc.payload, err, tc.ok)
			}
		})
	}
}

func TestMsgTypeString(t *testing.T) {
	want := map[MsgType]string{
		MsgInit: "init", MsgReady: "ready", MsgFatal: "fatal", MsgDrain: "drain",
		MsgStop: "stop", MsgReopen: "reopen", MsgStats: "stats",
		0: "MsgType(0)", 99: "MsgType(99)",
	}
	for typ, s := range want {
		if got := typ.String(); got != s {
			t.Errorf("%d.String() = %q, want %q", uint16(typ), got, s)
		}
	}
}

func TestTakeFileAndCloseFiles(t *testing.T) {
	fs := devNulls(t, 3)
	m := &Msg{Type: MsgReopen, Files: append([]*os.File(nil), fs...)}
	if f, err := m.TakeFile(-1); f != nil || err != nil {
		t.Fatalf("TakeFile(-1) = %v, %v", f, err)
	}
	for _, idx := range []int{3, -2} {
		if _, err := m.TakeFile(idx); err == nil {
			t.Errorf("TakeFile(%d) succeeded", idx)
		}
	}
	kept, err := m.TakeFile(1)
	if err != nil || kept != fs[1] {
		t.Fatalf("TakeFile(1) = %v, %v", kept, err)
	}
	if _, err := m.TakeFile(1); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("second TakeFile(1) = %v", err)
	}
	if err := m.CloseFiles(); err != nil {
		t.Fatal(err)
	}
	for i, f := range fs {
		_, err := f.Stat()
		closed := errors.Is(err, os.ErrClosed)
		if closed != (i != 1) {
			t.Errorf("file %d closed=%v", i, closed)
		}
	}
	kept.Close()
}
