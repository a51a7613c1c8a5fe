// Package ipc is the control channel between the fluxheim master and each
// of its workers.
//
// Transport: one AF_UNIX SOCK_SEQPACKET socketpair per worker ([Pair]).
// The master keeps one end as a [*Conn]; the other end is handed to the
// worker as exec.Cmd.ExtraFiles[0] and becomes fd 3 there ([FromFD]).
// SEQPACKET keeps message boundaries, so every [Conn.Send] is exactly one
// [Conn.Recv] on the other side, and SCM_RIGHTS file descriptors travel
// with exactly the message they belong to.
//
// Every message is one frame (see frame.go): a fixed 20-byte header
// (magic "FXH1", protocol version, type, flags, sequence number, fd count,
// payload length) followed by a JSON payload. Payloads larger than
// [MaxInlinePayload] travel in a sealed memfd attached as one extra fd.
// Master and worker are always the same executable, so there is exactly
// one protocol version per binary; a mismatch is a protocol error.
//
// Ownership of file descriptors: Send never takes ownership of the files
// it is given (the caller closes them after Send returns). Recv hands the
// received files to the caller in [Msg.Files]; the caller must close every
// one it does not keep ([Msg.TakeFile], [Msg.CloseFiles]). A frame that
// fails validation never leaks: Recv closes all of its fds and returns an
// error wrapping [ErrProtocol].
package ipc
