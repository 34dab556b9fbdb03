package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flipbench/flipbench/internal/cputime"
	"github.com/flipbench/flipbench/results"
)

// The benchmarks measure the generator's own cost per request against a
// server that answers at once. The server runs in the same process, so
// B/op and allocs/op include its share (the same before and after a
// change of loadgen's); scripts/loadcheck measures with the server in a
// process of its own. They report figures and assert none.

func newInstantServer(b *testing.B) string {
	b.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Response-Time", "0.001ms")
		w.Write([]byte("ok"))
	}))
	b.Cleanup(ts.Close)
	return ts.URL
}

// BenchmarkBurst100: one op is a burst of 100 requests, each on a
// connection of its own. spread-ms is the median send spread (first to
// last request sent), cpu-us/req the process's CPU time (user and
// system, the server's included) per request.
func BenchmarkBurst100(b *testing.B) {
	u := newInstantServer(b)
	b.ReportAllocs()
	var spreads []float64
	cpu0 := cputime.Self()
	for b.Loop() {
		sum, err := Run(context.Background(), Config{URL: u, Requests: 100})
		if err != nil {
			b.Fatal(err)
		}
		if sum.OK != 100 {
			b.Fatalf("ok %d of 100 (%v)", sum.OK, sum.ErrorsByKind)
		}
		spreads = append(spreads, sum.SendSpreadMs)
	}
	b.ReportMetric(results.Median(spreads), "spread-ms")
	b.ReportMetric(float64(cputime.Self()-cpu0)/float64(time.Microsecond)/float64(100*b.N), "cpu-us/req")
}

// BenchmarkRate: one op is one request of a rate run at 1000/s, without
// keep-alive (the default) and with it. The rate sets ns/op (1 ms); B/op,
// allocs/op and cpu-us/req (as in BenchmarkBurst100) are per request.
func BenchmarkRate(b *testing.B) {
	for _, keep := range []bool{false, true} {
		name := "close"
		if keep {
			name = "keepalive"
		}
		b.Run(name, func(b *testing.B) {
			u := newInstantServer(b)
			const rate = 1000
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cputime.Self()
			du := time.Duration(b.N) * time.Second / rate
			sum, err := Run(context.Background(), Config{URL: u, Rate: Rate{Freq: rate, Per: time.Second}, Duration: du, KeepAlive: keep})
			if err != nil {
				b.Fatal(err)
			}
			if sum.OK != b.N {
				b.Fatalf("ok %d of %d (%v)", sum.OK, b.N, sum.ErrorsByKind)
			}
			b.ReportMetric(float64(cputime.Self()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-us/req")
		})
	}
}
