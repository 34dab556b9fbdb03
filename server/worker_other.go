//go:build !linux && !darwin

package server

import "net"

func inheritedListener(spec workerSpec) (net.Listener, error) { return nil, ErrUnsupported }
