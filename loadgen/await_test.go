package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// newAsyncServer answers POST with 202 and a Location per job, as
// flipbench queue --reply async does; GET of a job's location answers
// queued for its first two polls, then its end: job 0 fails with 422,
// job 1's record is gone (404), the others are done by "worker" 7000+i.
// The location's /events streams queued, running, then the same end.
func newAsyncServer(t *testing.T) (*httptest.Server, func(id int) int, func() int) {
	t.Helper()
	var mu sync.Mutex
	next, polls, streams := 0, map[int]int{}, 0
	end := func(id int) string {
		if id == 0 {
			return `{"state":"failed","status":422,"error":"not an image","pid":7000}`
		}
		return fmt.Sprintf(`{"state":"done","status":200,"pid":%d,"queue_ms":12.5,"service_ms":40.25}`, 7000+id)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /flip", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		id := next
		next++
		mu.Unlock()
		w.Header().Set("Location", "/jobs/"+strconv.Itoa(id))
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"id":"%d","state":"queued"}`, id)
	})
	mux.HandleFunc("GET /jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		mu.Lock()
		polls[id]++
		n := polls[id]
		mu.Unlock()
		switch {
		case n <= 2:
			fmt.Fprint(w, `{"state":"queued"}`)
		case id == 1:
			http.NotFound(w, r)
		default:
			fmt.Fprint(w, end(id))
		}
	})
	mux.HandleFunc("GET /jobs/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		mu.Lock()
		streams++
		mu.Unlock()
		if id == 1 {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: queued\ndata: {\"state\":\"queued\"}\n\n")
		w.(http.Flusher).Flush()
		fmt.Fprint(w, "event: running\ndata: {\"state\":\"running\"}\n\n")
		fmt.Fprintf(w, "event: end\ndata: %s\n\n", end(id))
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts, func(id int) int {
			mu.Lock()
			defer mu.Unlock()
			return polls[id]
		}, func() int {
			mu.Lock()
			defer mu.Unlock()
			return streams
		}
}

// TestAwaitPollsJobsToTheirEnd: with Await, every 202 is polled at its
// location until its job ends, and its record is the job's: status,
// worker, queue and service times, the 202's latency apart.
func TestAwaitPollsJobsToTheirEnd(t *testing.T) {
	t.Parallel()
	for _, await := range []string{AwaitPoll, AwaitEvents} {
		t.Run(await, func(t *testing.T) {
			t.Parallel()
			testAwait(t, await)
		})
	}
}

func testAwait(t *testing.T, await string) {
	const n = 6
	ts, polls, streams := newAsyncServer(t)
	cfg := Config{URL: ts.URL + "/flip", Requests: n, Await: await}
	if await == AwaitPoll {
		cfg.PollInterval = time.Millisecond
	}
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Requests != n || sum.OK != n-2 || sum.ErrorsByKind["http_422"] != 1 || sum.ErrorsByKind["other"] != 1 {
		t.Fatalf("requests %d ok %d errors %v; want %d, %d, one http_422 and one other", sum.Requests, sum.OK, sum.ErrorsByKind, n, n-2)
	}
	for _, r := range sum.Results {
		id := -1
		switch {
		case r.Status == 422:
			id = 0
			if !strings.Contains(r.Error, "not an image") {
				t.Errorf("failed job: error %q, want the job's", r.Error)
			}
		case r.Status == 0:
			id = 1
			if !strings.Contains(r.Error, "gone") {
				t.Errorf("gone job: error %q, want it to say so", r.Error)
			}
		default:
			id = r.PID - 7000
			if r.Status != 200 || r.QueueMs != 12.5 || r.JobMs != 40.25 {
				t.Errorf("done job %d: status %d queue %v job %v; want 200, 12.5, 40.25", id, r.Status, r.QueueMs, r.JobMs)
			}
		}
		if got := polls(id); await == AwaitPoll && got != 3 || await == AwaitEvents && got != 0 {
			t.Errorf("job %d polled %d times, want 3 (two queued, then its end) when polling, none following events", id, got)
		}
		if r.AcceptMs <= 0 || r.LatencyMs < r.AcceptMs || r.EndMs < r.SentMs+r.LatencyMs-0.01 {
			t.Errorf("job %d: accept %v latency %v sent %v end %v; want the 202 first, the end after it", id, r.AcceptMs, r.LatencyMs, r.SentMs, r.EndMs)
		}
	}
	if want := map[string]int{AwaitPoll: 0, AwaitEvents: n}[await]; streams() != want {
		t.Errorf("%d event streams read, want %d", streams(), want)
	}
	if sum.AcceptMs == nil || sum.AcceptMs.Max > sum.LatencyMs.Max {
		t.Errorf("accept stats %+v, latency max %v; want the 202s' distribution, below the jobs'", sum.AcceptMs, sum.LatencyMs.Max)
	}
}

// TestWithoutAwaitA202IsTheAnswer: without Await the 202 is a success,
// and nothing is polled.
func TestWithoutAwaitA202IsTheAnswer(t *testing.T) {
	t.Parallel()
	ts, polls, _ := newAsyncServer(t)
	sum, err := Run(context.Background(), Config{URL: ts.URL + "/flip", Requests: 3})
	if err != nil {
		t.Fatal(err)
	}
	if sum.OK != 3 || sum.StatusCodes["202"] != 3 || sum.AcceptMs != nil || polls(0)+polls(1)+polls(2) != 0 {
		t.Errorf("ok %d codes %v accept %v polls %d; want 3 202s, no accept stats, no poll", sum.OK, sum.StatusCodes, sum.AcceptMs, polls(0)+polls(1)+polls(2))
	}
}

// TestAwaitedJobsTimeOut: a job that never ends is a timeout, counted
// from its send, as for any request.
func TestAwaitedJobsTimeOut(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /flip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/jobs/x")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /jobs/x", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"state":"running"}`) })
	ts := httptest.NewServer(mux)
	defer ts.Close()
	sum, err := Run(context.Background(), Config{URL: ts.URL + "/flip", Requests: 2, Await: AwaitPoll, PollInterval: 5 * time.Millisecond, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if sum.ErrorsByKind["timeout"] != 2 {
		t.Errorf("errors %v, want 2 timeouts", sum.ErrorsByKind)
	}
	for _, r := range sum.Results {
		if r.LatencyMs < 100 || !strings.Contains(r.Error, "awaiting the job") {
			t.Errorf("request %d: latency %v error %q; want >= the 100 ms timeout, and why", r.Seq, r.LatencyMs, r.Error)
		}
	}
}

// TestAwaitInterrupted: a run cancelled while jobs are awaited returns
// with them canceled, not failed.
func TestAwaitInterrupted(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	polled := make(chan struct{}, 100)
	mux.HandleFunc("POST /flip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/jobs/x")
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("GET /jobs/x", func(w http.ResponseWriter, r *http.Request) {
		polled <- struct{}{}
		fmt.Fprint(w, `{"state":"running"}`)
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-polled
		cancel()
	}()
	sum, err := Run(ctx, Config{URL: ts.URL + "/flip", Requests: 3, Await: AwaitPoll, PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted || sum.Canceled != 3 || sum.Errors != 0 {
		t.Errorf("interrupted %v canceled %d errors %d (%v); want true, 3, 0", sum.Interrupted, sum.Canceled, sum.Errors, sum.ErrorsByKind)
	}
}
