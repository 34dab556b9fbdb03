//go:build linux

package main_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCapacityOfAServer: the search against a real flipbench standard
// flipping the small image finds a rate, confirmed, within its budget;
// bad input is exit 2.
func TestCapacityOfAServer(t *testing.T) {
	p := startServer(t, nil, "standard", "--addr", "127.0.0.1:0", "--image", "fixture:small.jpg")
	stdout, stderr, code := runCLI(t, nil, "capacity", "--url", p.url+"/flip", "--slo", "p99<=150ms", "--slo", "errors<=1%",
		"--hold", "1s", "--start", "20", "--min-requests", "20", "--budget", "90s", "--format", "json")
	var out struct {
		SLOs   []string `json:"slos"`
		Search struct {
			Capacity float64 `json:"capacity"`
			Steps    []struct {
				Rate   float64 `json:"rate"`
				Passed bool    `json:"passed"`
			} `json:"steps"`
			OutOfBudget bool `json:"out_of_budget"`
			Unsettled   bool `json:"unsettled"`
		} `json:"search"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); code != 0 || err != nil {
		t.Fatalf("capacity: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	s := out.Search
	last := s.Steps[len(s.Steps)-1]
	// Any confirmed rate: on a busy CI machine a 1 s step of 20 requests
	// at 20/s can fail (a latency spike, or answers 3% behind), and the
	// search then narrows below it (19.4/s once in CI's plain pass). When
	// three confirmations fail in turn, the capacity moved more than the
	// resolution while the search ran (CI's plain pass once: 120/s passed,
	// 140/s failed), and the search says so, unsettled, with a rate.
	confirmed := last.Passed && last.Rate == s.Capacity
	if s.Capacity <= 0 || !(confirmed || s.Unsettled) || s.OutOfBudget || len(out.SLOs) != 2 {
		t.Errorf("capacity %.1f/s, last step %+v, out of budget %v, unsettled %v, slos %v: want a confirmed rate",
			s.Capacity, last, s.OutOfBudget, s.Unsettled, out.SLOs)
	}
	t.Logf("one worker, small image: %.1f requests/s at p99<=150ms, %d steps, unsettled %v", s.Capacity, len(s.Steps), s.Unsettled)
	// Nothing listens: no rate is met, said, exit 1.
	stdout, _, code = runCLI(t, nil, "capacity", "--url", "http://"+freeAddr(t)+"/flip", "--slo", "p99<=1s", "--hold", "200ms", "--start", "20", "--min-requests", "2")
	if code != 1 || !strings.Contains(stdout, "capacity: none found: every rate tried failed") {
		t.Errorf("capacity of nothing: exit %d, want 1:\n%s", code, stdout)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "at least one --slo"},
		{[]string{"--slo", "p99"}, "want pNN<=DURATION"},
		{[]string{"--slo", "p99<=1s", "--start", "0"}, "--start"},
		{[]string{"--slo", "p99<=1s", "--resolution", "2"}, "--resolution"},
		{[]string{"--slo", "p99<=1s", "--hold", "0s"}, "--hold"},
	} {
		if _, stderr, code := runCLI(t, nil, append([]string{"capacity", "--url", p.url + "/flip"}, tt.args...)...); code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("capacity %v: exit %d, %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}
