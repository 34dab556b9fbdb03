package queue

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// How long an operation on the broker is tried again while a NATS cluster
// elects a stream's leader or the connection moves to another server (an
// election takes a few seconds), each try bounded by brokerTry.
const (
	brokerRetryFor = 15 * time.Second
	brokerTry      = 3 * time.Second
)

// throughElections runs op until it succeeds, fails for a reason other
// than an election or a reconnection, or has been tried for
// brokerRetryFor. Each try gets its own deadline of brokerTry. op must be
// safe to repeat: a publish with its message ID, a compare-and-set, a
// read.
func throughElections(ctx context.Context, op func(ctx context.Context) error) error {
	deadline, wait := time.Now().Add(brokerRetryFor), 100*time.Millisecond
	for {
		tctx, cancel := context.WithTimeout(ctx, brokerTry)
		err := op(tctx)
		cancel()
		if err == nil || ctx.Err() != nil || !retryable(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
		wait = min(2*wait, time.Second)
	}
}

// retryable tells the errors of a stream without a leader, or of a
// connection between servers, from a refusal.
func retryable(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) && api.Code == http.StatusServiceUnavailable {
		return true // "JetStream system temporarily unavailable", a stream offline
	}
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrDisconnected)
}
