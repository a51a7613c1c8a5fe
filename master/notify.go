package master

import (
	"github.com/coreos/go-systemd/v22/daemon"
)

// notifier sends sd_notify messages when NOTIFY_SOCKET is set (the
// environment is kept: the master notifies many times; workers never see
// it).
type notifier struct{}

// send returns an error only when NOTIFY_SOCKET is set but unusable.
func (notifier) send(state string) error {
	_, err := daemon.SdNotify(false, state)
	return err
}

// monotonicUsec is "MONOTONIC_USEC=<now>\n" for RELOADING=1.
func monotonicUsec() string { return daemon.SdNotifyMonotonicUsec() }
