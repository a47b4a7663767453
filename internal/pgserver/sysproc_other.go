//go:build !linux

package pgserver

import (
	"errors"
	"os"
	"syscall"
)

// unprivileged returns how to run initdb and postgres, which refuse to run
// as root; outside Linux there is no user namespace to run them in.
func unprivileged() (*syscall.SysProcAttr, error) {
	if os.Geteuid() == 0 {
		return nil, errors.New("run postgres as root: only supported on Linux; run the testbed as an ordinary user")
	}
	return &syscall.SysProcAttr{}, nil
}
