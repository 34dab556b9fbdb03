// Package broker is the NATS plumbing that the queue and the load agents
// share: a NATS server embedded in this process ([StartEmbedded]), a
// connection that retries and says when it cannot reach its server
// ([Connect]), the credentials a client shows ([Auth]), and the checks and
// redaction of server URLs. It knows nothing of jobs or load.
package broker

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultAddr is where an embedded NATS server listens when not told:
// the loopback, never every interface.
const DefaultAddr = "127.0.0.1:4222"

// Auth is how a front or a worker proves itself to a NATS server.
type Auth struct {
	// Token is the embedded server's token, or an external server's.
	// Empty means none.
	Token string `json:"token,omitempty"`
	// Creds is a NATS credentials file (a user JWT and its key), for an
	// external server. Empty means none.
	Creds string `json:"creds,omitempty"`
	// CACert is a PEM file of the certificates a tls:// server's must
	// chain to (its CA, or a self-signed certificate itself). Empty means
	// the system's roots.
	CACert string `json:"cacert,omitempty"`
}

// Options are the nats.Go options that show a's credentials.
func (a Auth) Options() []nats.Option {
	var opts []nats.Option
	if a.Token != "" {
		opts = append(opts, nats.Token(a.Token))
	}
	if a.CACert != "" {
		opts = append(opts, nats.RootCAs(a.CACert))
	}
	if a.Creds != "" {
		opts = append(opts, nats.UserCredentials(a.Creds))
	}
	return opts
}

// Connect connects to the NATS server at url as name, retrying the first
// connection and reconnecting for ever: a worker may start before its
// front, and outlive the front's restarts. While the server does not
// answer, log says so at once and then every [unreachableEvery] tries,
// so that a wrong URL is never a silent wait. Extra options come last
// (Embedded.InProcess).
func Connect(url, name string, auth Auth, log *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	log = cmp.Or(log, slog.New(slog.DiscardHandler))
	var failures atomic.Int64
	opts := append([]nats.Option{
		nats.Name(name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if n := failures.Add(1); n == 1 || n%unreachableEvery == 0 {
				log.Warn("cannot reach the NATS server, retrying", "nats", Redact(url), "tries", n, "every", reconnectWait.String(), "err", err)
			}
		}),
		nats.ConnectHandler(func(*nats.Conn) {
			if n := failures.Load(); n > 0 {
				log.Info("reached the NATS server", "nats", Redact(url), "tries", n+1)
			}
		}),
	}, auth.Options()...)
	opts = append(opts, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", Redact(url), err)
	}
	return nc, nil
}

// How often Connect retries, and after how many failed tries it says
// again that the server does not answer (every 10 s).
const (
	reconnectWait    = 250 * time.Millisecond
	unreachableEvery = 40
)

// CheckURL checks a NATS server URL, or several separated by commas (the
// servers of one cluster), before anything connects: each needs a
// scheme NATS speaks (nats, tls, ws, wss) and a host, so that a typo is
// refused at once instead of retried for ever.
func CheckURL(raw string) error {
	for _, one := range strings.Split(raw, ",") {
		one = strings.TrimSpace(one)
		u, err := url.Parse(one)
		if err != nil {
			return fmt.Errorf("%q is not a URL: %w", Redact(one), err)
		}
		switch {
		case !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme):
			return fmt.Errorf("%q: want nats://HOST:PORT (or tls://, ws://, wss://)", Redact(one))
		case u.Hostname() == "":
			return fmt.Errorf("%q has no host: want nats://HOST:PORT", Redact(one))
		case u.Port() != "":
			if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
				return fmt.Errorf("%q: port %s is not between 1 and 65535", Redact(one), u.Port())
			}
		}
	}
	return nil
}

// Redact hides a password in a NATS URL, for logs and errors.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
