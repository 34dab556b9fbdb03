package server

import "syscall"

func launchAttr() *syscall.SysProcAttr {
	// Pdeathsig fires when the thread that started the child exits, not
	// the process (golang/go#27505); the Go runtime keeps that thread
	// unless a goroutine locked to it exits, which flipbench never does.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
