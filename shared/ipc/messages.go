package ipc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// MsgType identifies a message. The direction is part of the contract:
// M→W messages are sent by the master only, W→M by the worker only.
type MsgType uint16

// Message types. Values are part of the wire format; never renumber.
const (
	MsgInit       MsgType = 1 // M→W: Init payload + fds (listeners, log files)
	MsgReady      MsgType = 2 // W→M: Ready
	MsgFatal      MsgType = 3 // W→M: Fatal (config/runtime error; master must not respawn in a loop)
	MsgDrain      MsgType = 4 // M→W: Drain
	MsgStop       MsgType = 5 // M→W: stop now (no payload)
	MsgReopen     MsgType = 6 // M→W: Reopen + fds (new log files)
	MsgStats      MsgType = 7 // W→M: Stats
	MsgTLS        MsgType = 8 // M→W: TLS material (tlsmat.Material JSON): certificates, client CA, ticket keys
	MsgChallenges MsgType = 9 // M→W: ACME challenge answers (tlsmat.Challenges JSON)
)

var msgNames = [...]string{
	MsgInit:       "init",
	MsgReady:      "ready",
	MsgFatal:      "fatal",
	MsgDrain:      "drain",
	MsgStop:       "stop",
	MsgReopen:     "reopen",
	MsgStats:      "stats",
	MsgTLS:        "tls",
	MsgChallenges: "challenges",
}

// String returns the lower-case name of a known type and "MsgType(n)"
// otherwise.
func (t MsgType) String() string {
	if int(t) < len(msgNames) && msgNames[t] != "" {
		return msgNames[t]
	}
	return "MsgType(" + strconv.Itoa(int(t)) + ")"
}

// Init is the first message to a worker: its generation and slot, the
// validated config snapshot, and its listeners and log files. Fd fields
// are indexes into Msg.Files; -1 means none.
type Init struct {
	Gen       uint64          `json:"gen"`
	Slot      int             `json:"slot"`
	Config    json.RawMessage `json:"config"`     // the validated config snapshot
	Listeners []Listener      `json:"listeners"`  // every listener of this slot
	AccessLog int             `json:"access_log"` // fd index or -1
	ErrorLog  int             `json:"error_log"`  // fd index or -1
	// TLS is the tlsmat.Material for the TLS listeners (absent without
	// tls_listen); Challenges the current ACME answers.
	TLS        json.RawMessage `json:"tls,omitempty"`
	Challenges json.RawMessage `json:"challenges,omitempty"`
}

// Listener names one listening socket passed with Init.
type Listener struct {
	Key  string `json:"key"` // stable id, e.g. "tcp:127.0.0.1:8080#2" (address and slot)
	Addr string `json:"addr"`
	FD   int    `json:"fd"` // index into Msg.Files
	// TLS marks a server.tls_listen socket.
	TLS bool `json:"tls,omitempty"`
}

// Ready tells the master that the worker serves on every listener.
type Ready struct {
	Pid int    `json:"pid"`
	Gen uint64 `json:"gen"`
}

// Fatal reports an error the worker cannot recover from by restarting
// (a config it cannot serve, a listener it cannot use). The master must
// not respawn the worker in a loop.
type Fatal struct {
	Error string `json:"error"`
}

// Drain tells a worker to stop accepting, finish in-flight work and exit
// by Deadline at the latest.
type Drain struct {
	Deadline time.Time `json:"deadline"` // hard stop time
	// Retired lists listener keys whose address left the config: the
	// worker keeps accepting on them for a short quiet period before
	// closing, so connections queued there are served.
	Retired []string `json:"retired,omitempty"`
}

// Reopen hands a worker freshly opened log files (after a rotation).
// Fd fields are indexes into Msg.Files; -1 means keep the current one.
type Reopen struct {
	AccessLog int `json:"access_log"`
	ErrorLog  int `json:"error_log"`
}

// Stats is a worker's periodic connection count report.
type Stats struct {
	Active   int `json:"active"`
	Idle     int `json:"idle"`
	Hijacked int `json:"hijacked"`
}

// Msg is one received message.
type Msg struct {
	Type    MsgType
	Seq     uint32     // the sender's sequence number, increasing per Conn
	Payload []byte     // JSON; empty for messages sent with a nil payload
	Files   []*os.File // received fds, owned by the caller (close the ones you do not keep)
}

// Decode unmarshals the JSON payload into v. Master and worker come from
// the same binary, so decoding is strict: unknown fields, trailing data
// and an empty payload are errors.
func (m *Msg) Decode(v any) error {
	if len(m.Payload) == 0 {
		return fmt.Errorf("ipc: %s message has no payload", m.Type)
	}
	dec := json.NewDecoder(bytes.NewReader(m.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("ipc: decoding %s payload: %w", m.Type, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("ipc: decoding %s payload: trailing data", m.Type)
	}
	return nil
}

// TakeFile returns Files[idx] and removes it from the message (the slot
// becomes nil), so that CloseFiles leaves it open: the caller owns it now.
// idx -1 means "none" and returns (nil, nil). An index out of range or
// already taken is an error.
func (m *Msg) TakeFile(idx int) (*os.File, error) {
	if idx == -1 {
		return nil, nil
	}
	if idx < 0 || idx >= len(m.Files) {
		return nil, fmt.Errorf("ipc: %s message: fd index %d out of range (%d fds)", m.Type, idx, len(m.Files))
	}
	f := m.Files[idx]
	if f == nil {
		return nil, fmt.Errorf("ipc: %s message: fd index %d already taken", m.Type, idx)
	}
	m.Files[idx] = nil
	return f, nil
}

// CloseFiles closes every file still in m.Files (those not taken with
// TakeFile) and clears the slots. It returns the first close error.
func (m *Msg) CloseFiles() error {
	var first error
	for i, f := range m.Files {
		if f == nil {
			continue
		}
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
		m.Files[i] = nil
	}
	return first
}
