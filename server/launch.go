package server

import (
	"io"
	"time"
)

// DefaultLaunchTimeout is how long [Launch] waits for a server's workers.
const DefaultLaunchTimeout = time.Minute

// LaunchConfig describes a flipbench server to start as a child process.
type LaunchConfig struct {
	// Exe is the flipbench binary. Empty means this program.
	Exe string
	// Mode is "standard" or "cluster".
	Mode string
	// Workers is the cluster's size. Zero means one per CPU; ignored for
	// standard.
	Workers int
	// Config is passed on as flags: Image, Threads, Quality, TmpDir,
	// MaxBody and MaxPixels. LogFormat is always json, for Launch reads
	// the logs to learn when every worker is ready.
	Config Config
	// Stderr receives the server's logs (JSON lines). Nil discards them.
	Stderr io.Writer
	// Timeout bounds the wait for every worker to be ready. Zero means
	// [DefaultLaunchTimeout].
	Timeout time.Duration
}
