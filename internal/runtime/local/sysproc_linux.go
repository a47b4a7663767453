package local

import "syscall"

// sysProcAttr puts the child in its own process group and has the kernel
// kill it if the testbed dies without cleaning up (SIGKILL, OOM).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
