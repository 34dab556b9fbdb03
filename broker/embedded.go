package broker

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures a NATS server run in this process: the
// queue front's, or a load coordinator's.
type EmbeddedConfig struct {
	// Addr is where it listens, HOST:PORT; port 0 picks a free one.
	// Empty means [DefaultAddr].
	Addr string
	// NoJetStream runs the server without JetStream, for clients that
	// only publish, subscribe and request (the load agents): nothing is
	// stored. False runs it with JetStream, as the queue needs.
	NoJetStream bool
	// MaxPayload is the largest message the server takes, in bytes. Zero
	// means NATS's default, 1 MB.
	MaxPayload int32
	// StoreDir keeps JetStream's files. Empty means a temporary directory,
	// removed by Shutdown: uploads go to files whatever the storage of
	// the stream.
	StoreDir string
	// Token, when set, is required of every client. Required by the CLI
	// for an address off the loopback.
	Token string
	// TLSCert and TLSKey, PEM files, make the server require TLS of every
	// client that connects over the network (its URL is then tls://):
	// across machines a token alone would travel in clear. A client in
	// this process (the front's own connection) needs none. Empty means plain TCP.
	TLSCert, TLSKey string
}

// Embedded is a NATS server running in this process.
type Embedded struct {
	srv *natsserver.Server
	url string
	tmp string // the store directory Shutdown removes, if ours
}

// StartEmbedded starts a NATS server (with JetStream, unless told not) and returns once it
// accepts connections.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("nats address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("nats address %q: bad port", addr)
	}
	if port == 0 {
		port = natsserver.RANDOM_PORT // nats-server reads 0 as its default, 4222
	} else if ln, err := net.Listen("tcp", addr); err != nil {
		// The server would only fail to become ready, ten seconds on:
		// say why at once.
		return nil, fmt.Errorf("nats: listen on %s: %w", addr, err)
	} else {
		ln.Close()
	}
	e := &Embedded{}
	store := cfg.StoreDir
	if store == "" && !cfg.NoJetStream {
		if e.tmp, err = os.MkdirTemp("", "flipbench-nats-"); err != nil {
			return nil, fmt.Errorf("nats store: %w", err)
		}
		store = e.tmp
	}
	opts := &natsserver.Options{
		ServerName:    "flipbench",
		Host:          host,
		Port:          port,
		JetStream:     !cfg.NoJetStream,
		MaxPayload:    cfg.MaxPayload,
		StoreDir:      store,
		Authorization: cfg.Token,
		// Signals are the process's: the server must not exit it on
		// SIGTERM before a front has drained, or a coordinator written its
		// results.
		NoSigs:                 true,
		NoLog:                  true,
		DisableJetStreamBanner: true,
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		tc, err := natsserver.GenTLSConfig(&natsserver.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey})
		if err != nil {
			e.removeTmp()
			return nil, fmt.Errorf("nats tls: %w", err)
		}
		opts.TLS, opts.TLSConfig, opts.TLSTimeout = true, tc, 2
	}
	srv, err := natsserver.NewServer(opts)
	if err != nil {
		e.removeTmp()
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		e.removeTmp()
		return nil, fmt.Errorf("nats server: not listening on %s after 10s", addr)
	}
	e.srv = srv
	e.url = srv.ClientURL()
	return e, nil
}

// URL is the server's client URL, nats://HOST:PORT.
func (e *Embedded) URL() string { return e.url }

// InProcess is the option that connects a client in this process to the
// server without a socket: a queue front's publishes and record writes then
// cost no system calls (a third of the CPU of accepting a job went to
// the loopback connection's reads and writes).
func (e *Embedded) InProcess() nats.Option { return nats.InProcessServer(e.srv) }

// Shutdown stops the server and waits for it, and removes its temporary
// store directory, if it made one.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.removeTmp()
}

func (e *Embedded) removeTmp() {
	if e.tmp != "" {
		os.RemoveAll(e.tmp)
	}
}
