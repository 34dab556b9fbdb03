package bench

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/server"
)

// Servers starts the servers of the two sides of a bench.
type Servers interface {
	// Validate checks the configuration before anything starts.
	Validate() error
	// Start starts side's server (results.Standard or results.Cluster)
	// and returns once it serves.
	Start(ctx context.Context, side string) (Server, error)
	// Processes is the number of worker processes side's server runs.
	Processes(side string) int
	// Sequential reports whether the sides must run one at a time
	// because they share one address.
	Sequential() bool
	// Describe records in cfg what was served (image, threads, commands).
	Describe(cfg *results.RunConfig) error
}

// Server is a running server under test.
type Server interface {
	// URL is the full URL to load.
	URL() string
	// Stop stops the server and everything it started; it returns an
	// error if the server did not exit cleanly or in time.
	Stop(ctx context.Context) error
}

// Own starts flipbench's own servers through server.Launch: one worker
// for the standard side, Workers for the cluster, both flipping the same
// image with the same configuration, on free loopback ports.
type Own struct {
	// Exe is the flipbench binary that serves. Empty means this program.
	Exe string
	// Config is both servers' configuration (Image, Threads, Quality...).
	// Its LogFormat is set to json, so that Logs are JSON lines.
	Config server.Config
	// Workers is the cluster's size. Zero means one per CPU.
	Workers int
	// Sched is both servers' dispatch policy. Empty means
	// server.DefaultSched.
	Sched string
	// Logs receives the servers' logs. Nil discards them.
	Logs io.Writer
}

var _ Servers = (*Own)(nil)

// Validate checks the servers' configuration and image.
func (o *Own) Validate() error {
	if o.Workers < 0 {
		return fmt.Errorf("workers must be >= 1, got %d", o.Workers)
	}
	if err := server.CheckSched(o.Sched); err != nil {
		return err
	}
	return o.Config.Validate()
}

// Start launches side's server and waits until every worker is ready.
func (o *Own) Start(ctx context.Context, side string) (Server, error) {
	cfg := o.Config
	cfg.LogFormat = "json"
	inst, err := server.Launch(ctx, server.LaunchConfig{
		Exe: o.Exe, Name: side, Workers: o.Processes(side), Sched: o.Sched, Config: cfg, Stderr: o.Logs,
	})
	if err != nil {
		return nil, err
	}
	return ownServer{inst}, nil
}

// Processes is one for the standard side and the cluster's size for
// the cluster.
func (o *Own) Processes(side string) int { return processes(side, o.Workers) }

// Sequential is false: each server has a port of its own.
func (o *Own) Sequential() bool { return false }

// Describe records the image (its digest too), the threads and the
// cluster's size.
func (o *Own) Describe(cfg *results.RunConfig) error {
	img, err := o.Config.ReadImage()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(img.Data)
	cfg.Image = results.ImageInfo{
		Name: img.Name, SHA256: hex.EncodeToString(sum[:]), Bytes: int64(len(img.Data)),
		Format: img.Format, Width: img.Width, Height: img.Height, Pixels: img.Width * img.Height,
	}
	cfg.Threads = o.Config.Threads
	cfg.Workers = o.Processes(results.Cluster)
	cfg.Sched = cmp.Or(o.Sched, server.DefaultSched)
	return nil
}

type ownServer struct{ *server.Instance }

func (s ownServer) URL() string { return s.Instance.URL + "/flip" }

// Commands starts any servers under test with shell commands: the
// article's Node app, a gunicorn or PM2 setup. Both serve URL, so they
// run one after the other.
type Commands struct {
	// Standard and Cluster are run with sh -c, each in a process group
	// of its own, and stopped with SIGTERM, then SIGKILL, to the group.
	Standard, Cluster string
	// URL is the full URL both serve; it is polled until it answers.
	URL string
	// Workers is how many workers Cluster runs, for the efficiency. Zero
	// means one per CPU.
	Workers int
	// Logs receives the commands' output. Nil discards it.
	Logs io.Writer
}

var _ Servers = (*Commands)(nil)

// Validate checks that both commands and the URL are given.
func (c *Commands) Validate() error {
	switch {
	case c.Standard == "" || c.Cluster == "":
		return errors.New("servers under test need both a standard and a cluster command")
	case c.URL == "":
		return errors.New("servers under test need the URL they serve")
	case c.Workers < 0:
		return fmt.Errorf("workers must be >= 1, got %d", c.Workers)
	}
	return nil
}

// Start runs side's command and waits until the URL answers.
func (c *Commands) Start(ctx context.Context, side string) (Server, error) {
	command := c.Standard
	if side == results.Cluster {
		command = c.Cluster
	}
	s, err := startCommand(ctx, command, c.URL, c.Logs)
	if err != nil {
		return nil, err // not a nil *commandServer in a non-nil Server
	}
	return s, nil
}

// Processes is one for the standard side and Workers for the cluster.
func (c *Commands) Processes(side string) int { return processes(side, c.Workers) }

// processes is one worker for the standard side and workers (zero: one
// per CPU) for the cluster.
func processes(side string, workers int) int {
	if side == results.Standard {
		return 1
	}
	return cmp.Or(workers, runtime.NumCPU())
}

// Sequential is true: both commands serve one URL.
func (c *Commands) Sequential() bool { return true }

// Describe records the commands, the URL and the cluster's size.
func (c *Commands) Describe(cfg *results.RunConfig) error {
	cfg.StandardCmd, cfg.ClusterCmd, cfg.URL = c.Standard, c.Cluster, c.URL
	cfg.Workers = c.Processes(results.Cluster)
	return nil
}
