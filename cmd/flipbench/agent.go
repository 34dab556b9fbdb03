package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flipbench/flipbench/agents"
	"github.com/flipbench/flipbench/bench"
	"github.com/flipbench/flipbench/broker"
	"github.com/flipbench/flipbench/loadgen"
	"github.com/flipbench/flipbench/results"
	"github.com/flipbench/flipbench/server"
)

// natsClient is how a process on another machine reaches a NATS server:
// a queue worker, a load agent.
type natsClient struct {
	nats      string
	natsToken string
	natsCreds string
	natsCA    string
}

// flags declares --nats (server says whose server) and its credentials.
func (o *natsClient) flags(f *pflag.FlagSet, server string) {
	f.StringVar(&o.nats, "nats", "", server)
	f.StringVar(&o.natsToken, "nats-token", "", "token the NATS server requires")
	f.StringVar(&o.natsCreds, "nats-creds", "", "NATS credentials file")
	f.StringVar(&o.natsCA, "nats-cacert", "", "PEM file a tls:// server's certificate must chain to (default: the system's roots)")
}

// check checks the flags, try being the example of a --nats that is
// missing, and returns the credentials.
func (o *natsClient) check(what, try string) (broker.Auth, error) {
	if o.nats == "" {
		return broker.Auth{}, usageErrorf("--nats is required: the URL of %s\nTry: %s", what, try)
	}
	if err := broker.CheckURL(o.nats); err != nil {
		return broker.Auth{}, usageErrorf("--nats: %w", err)
	}
	if err := checkFlagFiles(flagFile{"nats-cacert", o.natsCA}, flagFile{"nats-creds", o.natsCreds}); err != nil {
		return broker.Auth{}, err
	}
	return broker.Auth{Token: o.natsToken, Creds: o.natsCreds, CACert: o.natsCA}, nil
}

type agentOptions struct {
	natsClient
	name      string
	logFormat string
	// clockSkew is for tests only (hidden): the agent reads its clock
	// this far off, as a machine whose clock is wrong would.
	clockSkew time.Duration
}

func newAgentCmd(runF func(context.Context, *agentOptions, io.Writer) error) *cobra.Command {
	opts := &agentOptions{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Wait for a load coordinator and fire its load, on any machine",
		Long: `Join a load spread over several machines: connect to the NATS server of a
flipbench load (or bench) run with --agents N, which prints the command to
run. The coordinator measures this machine's clock against its own, gives
this agent its share of each round (part of a burst, of a rate or of a
closed loop's clients) and the instant to release it, and merges the
records it sends back with the other agents'.

The agent runs one coordinator's rounds after another: when one is done
or gone (silent for 3 s), it waits for the next. One that joins a run
already full waits for its next round. SIGTERM or Ctrl-C calls off the
round it runs (its records so far are sent) and stops it.`,
		Example: `  $ flipbench agent --nats nats://10.0.0.5:4222 --nats-token "$TOKEN"
  $ FLIPBENCH_AGENT_NATS_TOKEN=secret flipbench agent --nats nats://10.0.0.5:4222 --name load-2
  $ flipbench agent --nats tls://coordinator.example:4222 --nats-cacert coordinator.pem --nats-token "$TOKEN"`,
		Args: rangeArgs(0, 0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts, cmd.ErrOrStderr())
			}
			return runAgent(cmd.Context(), opts, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	opts.natsClient.flags(f, "the coordinator's NATS server, nats://HOST:PORT (printed by flipbench load --agents, with its token)")
	f.StringVar(&opts.name, "name", "", "the agent's name in the results and logs (default: HOST-PID)")
	f.Var(newEnum(&opts.logFormat, "text", "text", "json"), "log-format", "log format")
	f.DurationVar(&opts.clockSkew, "test-clock-skew", 0, "for tests: read this machine's clock this far off")
	f.MarkHidden("test-clock-skew")
	return cmd
}

func runAgent(ctx context.Context, opts *agentOptions, stderr io.Writer) error {
	auth, err := opts.check("the coordinator's NATS server", "flipbench agent --nats nats://127.0.0.1:4222 --nats-token TOKEN")
	if err != nil {
		return err
	}
	ignoreSIGPIPE()
	a := &agents.Agent{
		URL:       opts.nats,
		Auth:      auth,
		Name:      opts.name,
		Version:   version,
		Log:       server.NewLogger(stderr, opts.logFormat),
		ClockSkew: opts.clockSkew,
	}
	return a.Run(ctx)
}

// coordinatorOptions are the flags of a load spread over agents, which
// load and bench share.
type coordinatorOptions struct {
	agents      int
	nats        string
	natsAddr    string
	natsToken   string
	natsCreds   string
	natsCA      string
	tlsCert     string
	tlsKey      string
	joinTimeout time.Duration
	grace       time.Duration
	// noClockSync is for measuring (hidden): release at the coordinator's
	// instant by each agent's own clock, uncorrected.
	noClockSync bool
}

// flags declares the coordinator's flags on f.
func (o *coordinatorOptions) flags(f *pflag.FlagSet) {
	f.Var(newIntAtLeast(&o.agents, 0, 0), "agents", "spread the load over this many flipbench agent processes, on any machines (0: fire it from this process)")
	f.StringVar(&o.nats, "agents-nats", "", "with --agents: an existing NATS server the agents reach (default: one in this process)")
	f.StringVar(&o.natsAddr, "agents-nats-addr", "127.0.0.1:0", "with --agents: where this process's NATS server listens (port 0: any free port)")
	f.StringVar(&o.natsToken, "agents-nats-token", "", "with --agents: the token agents show (default: a new random one, printed)")
	f.StringVar(&o.natsCreds, "agents-nats-creds", "", "with --agents-nats: NATS credentials file")
	f.StringVar(&o.natsCA, "agents-nats-cacert", "", "with --agents-nats: PEM file a tls:// server's certificate must chain to")
	f.StringVar(&o.tlsCert, "agents-nats-tls-cert", "", "with --agents: PEM certificate, and the NATS server requires TLS (with --agents-nats-tls-key)")
	f.StringVar(&o.tlsKey, "agents-nats-tls-key", "", "PEM key of --agents-nats-tls-cert")
	f.DurationVar(&o.joinTimeout, "agents-wait", agents.DefaultJoinTimeout, "with --agents: how long to wait for the agents to join")
	f.DurationVar(&o.grace, "agents-grace", agents.DefaultGrace, "with --agents: how long past the end of its load an agent may take to send its records before its part counts as missing")
	f.BoolVar(&o.noClockSync, "agents-no-clock-sync", false, "for measuring: release by each agent's own clock, uncorrected")
	f.MarkHidden("agents-no-clock-sync")
}

// validate checks the coordinator's flags; changed says which flags were
// given.
func (o *coordinatorOptions) validate(changed func(string) bool) error {
	if o.agents == 0 {
		for _, name := range []string{"agents-nats", "agents-nats-addr", "agents-nats-token", "agents-nats-creds", "agents-nats-cacert", "agents-nats-tls-cert", "agents-nats-tls-key", "agents-wait", "agents-grace"} {
			if changed(name) {
				return usageErrorf("--%s needs --agents N", name)
			}
		}
		return nil
	}
	if err := checkFlagFiles(flagFile{"agents-nats-cacert", o.natsCA}, flagFile{"agents-nats-creds", o.natsCreds},
		flagFile{"agents-nats-tls-cert", o.tlsCert}, flagFile{"agents-nats-tls-key", o.tlsKey}); err != nil {
		return err
	}
	switch {
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return usageErrorf("--agents-nats-tls-cert and --agents-nats-tls-key go together: give both")
	case o.joinTimeout <= 0:
		return usageErrorf("--agents-wait must be > 0, got %s", o.joinTimeout)
	case o.grace <= 0:
		return usageErrorf("--agents-grace must be > 0, got %s", o.grace)
	}
	if o.nats != "" {
		for _, name := range []string{"agents-nats-addr", "agents-nats-tls-cert", "agents-nats-tls-key"} {
			if changed(name) {
				return usageErrorf("--%s is for this process's NATS server; --agents-nats uses an existing one", name)
			}
		}
		if err := broker.CheckURL(o.nats); err != nil {
			return usageErrorf("--agents-nats: %w", err)
		}
	} else if o.natsCreds != "" {
		return usageErrorf("--agents-nats-creds is for an existing NATS server (--agents-nats); this process's takes --agents-nats-token")
	}
	return nil
}

// start starts the coordinator and prints, on stderr, the command an
// agent runs to join it. The token of this process's server is made up
// when not given, so that it is never open.
func (o *coordinatorOptions) start(log *slog.Logger, stderr io.Writer) (*agents.Coordinator, error) {
	cfg := agents.Config{
		Agents: o.agents, NATS: o.nats, JoinTimeout: o.joinTimeout, Grace: o.grace,
		NoClockSync: o.noClockSync, Log: log,
		Auth: broker.Auth{Token: o.natsToken, Creds: o.natsCreds, CACert: o.natsCA},
	}
	token, shown := o.natsToken, "\"$TOKEN\""
	if o.nats == "" {
		if token == "" {
			token = rand.Text()
			shown = token
		}
		cfg.Embedded = broker.EmbeddedConfig{Addr: o.natsAddr, Token: token, TLSCert: o.tlsCert, TLSKey: o.tlsKey}
	}
	c, err := agents.Start(cfg)
	if err != nil {
		return nil, fmt.Errorf("agents: %w", err)
	}
	join := "flipbench agent --nats " + reachableURL(c.URL())
	if token != "" {
		join += " --nats-token " + shown
	}
	if o.tlsCert != "" {
		join += " --nats-cacert " + o.tlsCert
	}
	noun := "agents"
	if o.agents == 1 {
		noun = "agent"
	}
	fmt.Fprintf(stderr, "waiting for %d %s to join: %s\n", o.agents, noun, join)
	return c, nil
}

// reachableURL is u with an unspecified host (0.0.0.0, ::: every
// interface) replaced by this machine's name, which agents elsewhere can
// reach, and any password hidden.
func reachableURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Hostname() == "" || !net.ParseIP(p.Hostname()).IsUnspecified() {
		return broker.Redact(u)
	}
	if host, err := os.Hostname(); err == nil {
		p.Host = net.JoinHostPort(host, p.Port())
	}
	return broker.Redact(p.String())
}

// loadThrough fires each load through c, its errors the CLI's.
func loadThrough(c *agents.Coordinator) bench.LoaderFunc {
	return func(ctx context.Context, cfg loadgen.Config) (*results.Summary, error) {
		sum, err := c.Run(ctx, cfg)
		return sum, agentsError(err)
	}
}

// agentsError maps the coordinator's errors to the CLI's, with what to
// do where the coordinator's own words cannot say it.
func agentsError(err error) error {
	switch {
	case errors.Is(err, agents.ErrResultsFile):
		return usageErrorf("--results: %w", err)
	case errors.Is(err, agents.ErrTooFewAgents):
		return fmt.Errorf("%w: start them with the command printed above, or give them longer with --agents-wait", err)
	}
	return err
}
