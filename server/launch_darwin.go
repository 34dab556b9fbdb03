package server

import "syscall"

// macOS has no parent-death signal: a launched server outlives a
// SIGKILLed parent until someone stops it.
func launchAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
