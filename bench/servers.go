package bench

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/flipbench/flipbench/broker"
	"github.com/flipbench/flipbench/queue"
	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/server"
)

// Servers starts the servers of the arms of a bench.
type Servers interface {
	// Validate checks the configuration before anything starts.
	Validate() error
	// Arms lists the servers to measure: a standard arm first, then the
	// others (clusters, queues; of each build), with names unique in the
	// bench.
	Arms() []results.ArmSpec
	// Start starts arm's server and returns once it serves.
	Start(ctx context.Context, arm results.ArmSpec) (Server, error)
	// Sequential reports whether the arms must run one at a time
	// because they share one address.
	Sequential() bool
	// Describe records in cfg what was served (image, threads, commands).
	Describe(cfg *results.RunConfig) error
}

// Server is a running server under test.
type Server interface {
	// URL is the full URL to load.
	URL() string
	// PID is the process at the root of the server's process tree (a
	// supervisor, a shell), whose CPU time and memory are the arm's cost;
	// 0 when there is none to measure.
	PID() int
	// Stop stops the server and everything it started; it returns an
	// error if the server did not exit cleanly or in time.
	Stop(ctx context.Context) error
}

// Own starts flipbench's own servers through server.Launch: one worker
// for the standard arm, a cluster of each size under each policy, and
// with the queue mode a queue server (flipbench queue: a front, an
// embedded NATS JetStream work queue and local workers) of each size,
// all flipping the same image with the same configuration, on free
// loopback ports.
type Own struct {
	// Exe is the flipbench binary that serves. Empty means this program.
	Exe string
	// Builds, for a paired A/B bench, are two binaries (results.Base and
	// results.Head, in that order) whose arms are all measured in every
	// round; Exe is then unused.
	Builds []results.Build
	// Config is the servers' configuration (Image, Threads, Quality...).
	// Its LogFormat is set to json, so that Logs are JSON lines.
	Config server.Config
	// Workers are the clusters' sizes, each measured. Empty means one
	// cluster of one worker per CPU.
	Workers []int
	// Scheds are the dispatch policies, each measured at each size; the
	// standard arm runs the first. Empty means server.DefaultSched.
	Scheds []string
	// Modes are the ways to serve that are measured, from
	// results.Standard (always, the baseline), results.Cluster and
	// results.Queue. Empty means standard and cluster.
	Modes []string
	// QueueReply is how the queue arms' fronts answer: [ReplyWait] (the
	// request waits for its job, measured like a cluster's) or
	// [ReplyAsync] (202 at once; the load follows each job's event stream
	// to its end, and the accept times are measured apart). Empty means
	// ReplyWait.
	QueueReply string
	// QueueNATS is an existing NATS server's or cluster's URLs, separated
	// by commas, for the queue arm's broker instead of the one its front
	// embeds; QueueReplicas is how many of its servers hold the queue (0:
	// one). One queue arm at most may use it: arms run side by side, and
	// two would share one stream.
	QueueNATS     string
	QueueReplicas int
	// Logs receives the servers' logs. Nil discards them.
	Logs io.Writer
}

var _ Servers = (*Own)(nil)

// The queue arms' replies: flipbench queue's --reply.
const (
	ReplyWait  = "wait"
	ReplyAsync = "async"
)

// Modes lists the ways to serve a bench can measure.
var Modes = []string{results.Standard, results.Cluster, results.Queue}

// Validate checks the sizes, the policies, the modes, the servers'
// configuration and image.
func (o *Own) Validate() error {
	if err := checkSizes(o.Workers); err != nil {
		return err
	}
	if err := checkModes(o.Modes); err != nil {
		return err
	}
	if o.QueueReply != "" && o.QueueReply != ReplyWait && o.QueueReply != ReplyAsync {
		return fmt.Errorf("queue reply must be %s or %s, got %q", ReplyWait, ReplyAsync, o.QueueReply)
	}
	if err := o.checkQueueNATS(); err != nil {
		return err
	}
	if len(o.Builds) > 0 {
		if len(o.Builds) != 2 || o.Builds[0].Name != results.Base || o.Builds[1].Name != results.Head {
			return errors.New("a paired bench needs a base and a head build")
		}
		for _, b := range o.Builds {
			if err := checkExe(b.Exe); err != nil {
				return fmt.Errorf("%s build: %w", b.Name, err)
			}
		}
	}
	for i, s := range o.Scheds {
		if err := server.CheckSched(s); err != nil {
			return err
		}
		if slices.Contains(o.Scheds[:i], s) {
			return fmt.Errorf("policy %s listed twice", s)
		}
	}
	return o.Config.Validate()
}

func checkSizes(sizes []int) error {
	for i, w := range sizes {
		if w < 1 {
			return fmt.Errorf("workers must be >= 1, got %d", w)
		}
		if slices.Contains(sizes[:i], w) {
			return fmt.Errorf("cluster size %d listed twice", w)
		}
		if err := server.CheckWorkers(w); err != nil {
			return err
		}
	}
	return nil
}

// checkModes checks that modes are known, listed once, and hold the
// standard baseline and something to compare with it.
func checkModes(modes []string) error {
	if len(modes) == 0 {
		return nil
	}
	for i, m := range modes {
		if !slices.Contains(Modes, m) {
			return fmt.Errorf("mode must be one of %s, got %q", strings.Join(Modes, ", "), m)
		}
		if slices.Contains(modes[:i], m) {
			return fmt.Errorf("mode %s listed twice", m)
		}
	}
	if !slices.Contains(modes, results.Standard) {
		return errors.New("modes need standard: the speedups are against it")
	}
	if len(modes) < 2 {
		return errors.New("modes need cluster or queue beside standard: nothing to compare with")
	}
	return nil
}

func (o *Own) modes() []string {
	if len(o.Modes) == 0 {
		return []string{results.Standard, results.Cluster}
	}
	return o.Modes
}

// checkExe checks that path is a file that can be run.
func checkExe(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return err
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// Arms is the standard arm under the first policy, then a cluster arm
// for each size and policy, sizes first, then a queue arm for each size
// (with the queue mode); for a paired bench, those of the base build,
// then the same of the head build.
func (o *Own) Arms() []results.ArmSpec {
	scheds := o.Scheds
	if len(scheds) == 0 {
		scheds = []string{server.DefaultSched}
	}
	builds := []string{""}
	if len(o.Builds) > 0 {
		builds = []string{results.Base, results.Head}
	}
	var arms []results.ArmSpec
	for _, b := range builds {
		std := results.BuildArmName(b, results.Standard)
		arms = append(arms, results.ArmSpec{Name: std, Build: b, Mode: results.Standard, Workers: 1, Sched: scheds[0]})
		sizes := sizesOr(o.Workers)
		if slices.Contains(o.modes(), results.Cluster) {
			for _, w := range sizes {
				for _, s := range scheds {
					arms = append(arms, results.ArmSpec{
						Name:  results.BuildArmName(b, results.ArmName(w, s, len(sizes) > 1, len(scheds) > 1)),
						Build: b, Mode: results.Cluster, Workers: w, Sched: s, Baseline: std,
					})
				}
			}
		}
		if slices.Contains(o.modes(), results.Queue) {
			for _, w := range sizes {
				name := results.Queue
				if len(sizes) > 1 {
					name += fmt.Sprintf("/%dw", w)
				}
				arms = append(arms, results.ArmSpec{
					Name:  results.BuildArmName(b, name),
					Build: b, Mode: results.Queue, Workers: w, Reply: cmp.Or(o.QueueReply, ReplyWait), Baseline: std,
				})
			}
		}
	}
	return arms
}

// checkQueueNATS checks that an external broker serves one queue arm.
func (o *Own) checkQueueNATS() error {
	if o.QueueNATS == "" {
		if o.QueueReplicas > 1 {
			return errors.New("queue replicas need an external NATS cluster for the queue arm")
		}
		return nil
	}
	if err := broker.CheckURL(o.QueueNATS); err != nil {
		return fmt.Errorf("queue NATS: %w", err)
	}
	queues := 0
	for _, a := range o.Arms() {
		if a.Mode == results.Queue {
			queues++
		}
	}
	if queues != 1 {
		return fmt.Errorf("an external NATS broker serves one queue arm, and this bench has %d: give the queue mode, one worker count and one build", queues)
	}
	return nil
}

// sizesOr is sizes, or one cluster of one worker per CPU.
func sizesOr(sizes []int) []int {
	if len(sizes) == 0 {
		return []int{runtime.NumCPU()}
	}
	return sizes
}

// Start launches arm's server and waits until every worker is ready.
func (o *Own) Start(ctx context.Context, arm results.ArmSpec) (Server, error) {
	cfg := o.Config
	cfg.LogFormat = "json"
	exe := o.Exe
	for _, b := range o.Builds {
		if b.Name == arm.Build {
			exe = b.Exe
		}
	}
	lc := server.LaunchConfig{
		Exe: exe, Name: arm.Name, Workers: arm.Workers, Sched: arm.Sched, Config: cfg, Stderr: o.Logs,
	}
	launch := server.Launch
	if arm.Mode == results.Queue {
		launch = func(ctx context.Context, lc server.LaunchConfig) (*server.Instance, error) {
			return queue.Launch(ctx, lc, queue.LaunchSettings{Reply: arm.Reply, NATS: o.QueueNATS, Replicas: o.QueueReplicas})
		}
	}
	inst, err := launch(ctx, lc)
	if err != nil {
		return nil, err
	}
	return ownServer{inst}, nil
}

// Sequential is false: each server has a port of its own.
func (o *Own) Sequential() bool { return false }

// Describe records the image (its digest too) and the threads.
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
	cfg.Builds = nil
	for _, b := range o.Builds {
		data, err := os.ReadFile(b.Exe)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		b.SHA256 = hex.EncodeToString(sum[:])
		cfg.Builds = append(cfg.Builds, b)
	}
	return nil
}

type ownServer struct{ *server.Instance }

func (s ownServer) URL() string { return s.Instance.URL + "/flip" }
func (s ownServer) PID() int    { return s.Instance.PID }

// WorkersPlaceholder in a cluster command is replaced by each cluster
// size: "gunicorn -w {workers} app:app".
const WorkersPlaceholder = "{workers}"

// Commands starts any servers under test with shell commands: the
// article's Node app, a gunicorn or PM2 setup. They all serve URL, so
// they run one at a time: each measured round starts its server, warms
// it up, measures it and stops it (see [Schedule]).
type Commands struct {
	// Standard and Cluster are run with sh -c, each in a process group
	// of its own, and stopped with SIGTERM, then SIGKILL, to the group.
	// Cluster may hold [WorkersPlaceholder].
	Standard, Cluster string
	// URL is the full URL both serve; it is polled until it answers.
	URL string
	// Workers are the clusters' sizes: with several, Cluster must hold
	// [WorkersPlaceholder] and runs once per size. Empty means one per
	// CPU, for the efficiency.
	Workers []int
	// Builds, for a paired A/B bench of any server, are two directories
	// (results.Base and results.Head, in that order, their Dir set) in
	// which the same commands run: two checkouts of the server under
	// test. Every round measures both builds' arms. Empty: the commands
	// run in the working directory.
	Builds []results.Build
	// Logs receives the commands' output. Nil discards it.
	Logs io.Writer
}

var _ Servers = (*Commands)(nil)

// Validate checks that both commands and the URL are given, and that
// several sizes have a placeholder to go in.
func (c *Commands) Validate() error {
	switch {
	case c.Standard == "" || c.Cluster == "":
		return errors.New("servers under test need both a standard and a cluster command")
	case c.URL == "":
		return errors.New("servers under test need the URL they serve")
	case len(c.Workers) > 1 && !strings.Contains(c.Cluster, WorkersPlaceholder):
		return fmt.Errorf("several cluster sizes need %s in the cluster command, to start each size", WorkersPlaceholder)
	}
	if len(c.Builds) > 0 {
		if len(c.Builds) != 2 || c.Builds[0].Name != results.Base || c.Builds[1].Name != results.Head {
			return errors.New("a paired bench needs a base and a head build")
		}
		for _, b := range c.Builds {
			if fi, err := os.Stat(b.Dir); err != nil {
				return fmt.Errorf("%s build: %w", b.Name, err)
			} else if !fi.IsDir() {
				return fmt.Errorf("%s build: %s is not a directory", b.Name, b.Dir)
			}
		}
	}
	return checkSizes(c.Workers)
}

// Arms is the standard command, then the cluster command at each size;
// for a paired bench, those of the base build, then the head build's.
func (c *Commands) Arms() []results.ArmSpec {
	builds := []string{""}
	if len(c.Builds) > 0 {
		builds = []string{results.Base, results.Head}
	}
	var arms []results.ArmSpec
	for _, b := range builds {
		std := results.BuildArmName(b, results.Standard)
		arms = append(arms, results.ArmSpec{Name: std, Build: b, Mode: results.Standard, Workers: 1, Command: c.Standard})
		sizes := sizesOr(c.Workers)
		for _, w := range sizes {
			arms = append(arms, results.ArmSpec{
				Name: results.BuildArmName(b, results.ArmName(w, "", len(sizes) > 1, false)), Build: b, Mode: results.Cluster, Workers: w,
				Command: strings.ReplaceAll(c.Cluster, WorkersPlaceholder, strconv.Itoa(w)), Baseline: std,
			})
		}
	}
	return arms
}

// Start runs arm's command, in its build's directory, and waits until
// the URL answers.
func (c *Commands) Start(ctx context.Context, arm results.ArmSpec) (Server, error) {
	dir := ""
	for _, b := range c.Builds {
		if b.Name == arm.Build {
			dir = b.Dir
		}
	}
	s, err := startCommand(ctx, arm.Command, dir, c.URL, c.Logs)
	if err != nil {
		return nil, err // not a nil *commandServer in a non-nil Server
	}
	return s, nil
}

// Sequential is true: every command serves one URL.
func (c *Commands) Sequential() bool { return true }

// Describe records the commands, the URL and the builds' directories.
func (c *Commands) Describe(cfg *results.RunConfig) error {
	cfg.StandardCmd, cfg.ClusterCmd, cfg.URL = c.Standard, c.Cluster, c.URL
	cfg.Builds = slices.Clone(c.Builds)
	return nil
}
