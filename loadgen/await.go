package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/flipbench/flipbench/results"
)

// The ways to await a job ([Config.Await]).
const (
	// AwaitPoll asks the job's location every poll interval.
	AwaitPoll = "poll"
	// AwaitEvents follows the job's event stream, location + "/events".
	AwaitEvents = "events"
)

// DefaultPollInterval is the time between two polls of an awaited job
// ([Config.Await]). A job is seen to end up to this late, about half of
// it on average: a tenth of a second against the default photo's second
// a job. Ten awaited jobs cost the server a hundred status requests a
// second, a small share of a core next to the jobs themselves.
const DefaultPollInterval = 100 * time.Millisecond

// jobState is what an awaited job's location answers: the fields of
// flipbench queue's job record (GET /jobs/ID) that a record takes.
type jobState struct {
	State     string  `json:"state"`
	Status    int     `json:"status"`
	Error     string  `json:"error"`
	PID       int     `json:"pid"`
	QueueMs   float64 `json:"queue_ms"`
	ServiceMs float64 `json:"service_ms"`
}

// ended reports whether the job is done or failed.
func (s jobState) ended() bool { return s.State == "done" || s.State == "failed" }

// awaitable reports whether res is a job accepted for later, with a
// location to ask about it.
func awaitable(res *vegeta.Result) bool {
	return res.Code == http.StatusAccepted && res.Error == "" && res.Headers.Get("Location") != ""
}

// awaiter follows accepted jobs until they end.
type awaiter struct {
	client   *http.Client // kept-alive connections: a poll is no new client
	events   bool         // follow each job's event stream rather than poll
	interval time.Duration
	timeout  time.Duration // from the request's send, as for any request
}

// await polls the location of res, a 202 whose record is rec, until its
// job ends, and returns rec as the client saw the job: its latency and
// end run to the poll that saw the job end, its status, PID, queue and
// service times are the job's, and AcceptMs is the 202's latency. A job
// not ended within the timeout (from the send) is a timeout; a location
// that no longer knows the job, an error; ctx done, a canceled request.
func (a *awaiter) await(ctx context.Context, res *vegeta.Result, rec results.Record) results.Record {
	rec.AcceptMs = rec.LatencyMs
	finish := func(status int, errText string) results.Record {
		lat := time.Since(res.Timestamp)
		rec.LatencyMs = results.Ms(lat)
		rec.EndMs = results.Ms(time.Duration(rec.SentMs*float64(time.Millisecond)) + lat)
		rec.Status, rec.Error = status, errText
		rec.Kind = ErrorKind(status, errText)
		return rec
	}
	loc, err := url.Parse(res.URL)
	if err == nil {
		loc, err = loc.Parse(res.Headers.Get("Location"))
	}
	if err != nil {
		return finish(0, fmt.Sprintf("job location %q: %v", res.Headers.Get("Location"), err))
	}
	deadline := res.Timestamp.Add(a.timeout)
	if a.events {
		// The stream tells of the end as it happens. If it breaks off
		// (a front restarting), polling takes over.
		st, err := a.follow(ctx, deadline, loc.String()+"/events")
		switch {
		case ctx.Err() != nil:
			return finish(0, errInterrupted.Error())
		case errors.Is(err, errNoJob):
			return finish(0, err.Error())
		case err == nil:
			return a.ended(st, &rec, finish)
		}
	}
	tick := time.NewTicker(a.interval)
	defer tick.Stop()
	for {
		st, err := a.poll(ctx, loc.String())
		switch {
		case ctx.Err() != nil:
			return finish(0, errInterrupted.Error())
		case errors.Is(err, errNoJob):
			return finish(0, err.Error())
		case err == nil && st.ended():
			return a.ended(st, &rec, finish)
		}
		// Not ended yet, or the poll failed (a front restarting): ask
		// again, until the request's timeout.
		if time.Now().After(deadline) {
			why := "job not ended"
			if err != nil {
				why = err.Error()
			}
			return finish(0, fmt.Sprintf("request timeout (%s) exceeded awaiting the job: %s", a.timeout, why))
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

// ended completes the record of a job that ended as st says.
func (a *awaiter) ended(st jobState, rec *results.Record, finish func(int, string) results.Record) results.Record {
	rec.PID, rec.QueueMs, rec.JobMs = st.PID, st.QueueMs, st.ServiceMs
	if st.State == "done" {
		return finish(http.StatusOK, "")
	}
	status := st.Status
	if status < 400 {
		status = http.StatusInternalServerError
	}
	return finish(status, fmt.Sprintf("%d %s: job failed: %s", status, http.StatusText(status), st.Error))
}

// follow reads the job's event stream at loc until an event says the
// job ended, and returns that state. It returns an error if the stream
// cannot be had or ends first.
func (a *awaiter) follow(ctx context.Context, deadline time.Time, loc string) (jobState, error) {
	var st jobState
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	resp, err := a.get(ctx, loc, "text/event-stream")
	if err != nil {
		return st, fmt.Errorf("job events: %w", err)
	}
	defer resp.Body.Close()
	// Server-Sent Events: "data:" lines carry the job's record as JSON;
	// the event's name is its state too, so the data is enough.
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &st); err != nil {
			return st, fmt.Errorf("job events: %w", err)
		}
		if st.ended() {
			return st, nil
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("job events: %w", err)
	}
	return st, errors.New("job events: the stream ended before the job")
}

// errNoJob is a location that does not know its job (404).
var errNoJob = errors.New("job gone: its location answers 404 Not Found")

// get asks loc for what accept names, and returns the response if it is
// a 200; errNoJob for a 404.
func (a *awaiter) get(ctx context.Context, loc, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", DefaultUserAgent)
	req.Header.Set("Accept", accept)
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return nil, errNoJob
		}
		return nil, errors.New(resp.Status)
	}
	return resp, nil
}

// poll asks loc for the job's state once.
func (a *awaiter) poll(ctx context.Context, loc string) (jobState, error) {
	var st jobState
	resp, err := a.get(ctx, loc, "application/json")
	if err != nil {
		return st, fmt.Errorf("job status: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil {
		return st, fmt.Errorf("job status: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	return st, nil
}
