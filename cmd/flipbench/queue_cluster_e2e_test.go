//go:build linux

package main_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/flipbench/flipbench/fixtures"
	"github.com/flipbench/flipbench/queue"
)

// natsServerBin is nats-server built from the module flipbench embeds,
// once, for the tests that need servers they can kill.
var natsServerBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "flipbench-nats-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "nats-server")
	build := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building nats-server: %w\n%s", err, out)
	}
	return bin, nil
})

// natsCluster is a JetStream cluster of nats-server processes on
// loopback.
type natsCluster struct {
	urls  []string
	procs []*exec.Cmd
}

// URL is every server's client URL, as --nats takes them.
func (c *natsCluster) URL() string { return strings.Join(c.urls, ",") }

// startNATSCluster starts n clustered nats-server processes with
// JetStream, each with a store of its own, and waits until JetStream
// answers (a meta leader is elected). Cleanup kills what is left.
func startNATSCluster(t *testing.T, n int) *natsCluster {
	t.Helper()
	bin, err := natsServerBin()
	if err != nil {
		t.Fatal(err)
	}
	c := &natsCluster{}
	var routes []string
	clients := make([]string, n)
	for i := range n {
		clients[i] = freeAddr(t)
		routes = append(routes, "nats://"+freeAddr(t))
	}
	for i := range n {
		client, route := clients[i], strings.TrimPrefix(routes[i], "nats://")
		host, port, _ := strings.Cut(client, ":")
		args := []string{"-a", host, "-p", port, "-n", fmt.Sprintf("node%d", i+1), "-js", "-sd", t.TempDir(),
			"--cluster_name", "flipbench", "--cluster", "nats://" + route, "--routes", strings.Join(routes, ",")}
		cmd := exec.Command(bin, args...)
		cmd.Stderr = newLineBuffer()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c.procs = append(c.procs, cmd)
		c.urls = append(c.urls, "nats://"+client)
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	nc, err := nats.Connect(c.URL(), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the NATS cluster's JetStream to answer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
	return c
}

// TestQueueOnANATSCluster: a front and a worker on a cluster of three
// NATS servers, the queue replicated on all three, serve a burst; more
// replicas than servers is a one-line refusal, exit 2.
func TestQueueOnANATSCluster(t *testing.T) {
	c := startNATSCluster(t, 3)
	q := startQueueWith(t, 0, "--workers", "0", "--nats", c.URL(), "--replicas", "3", "--image", "fixture:"+fixtures.SmallJPEG)
	startWorker(t, c.URL(), "w1")
	q.waitIdle(t, 1)
	for i, r := range postConcurrently(q.url, 6, nil) {
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("job %d on the cluster: %d, %v", i, r.status, r.err)
		}
	}
	nc, err := nats.Connect(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range []string{queue.StreamName, "KV_" + queue.RecordsBucket, "OBJ_" + queue.UploadsBucket} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if info := s.CachedInfo(); info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
			t.Errorf("stream %s: %d replicas (%+v), want 3: a leader and two followers", name, info.Config.Replicas, info.Cluster)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--nats", c.urls[0], "--replicas", "5"}, "5 replicas need 5 servers; the NATS cluster has 3"},
		{[]string{"--replicas", "3"}, "the embedded server is one"},
		{[]string{"--nats", c.URL(), "--replicas", "6"}, "--replicas"},
	} {
		_, stderr, code := runCLI(t, nil, append([]string{"queue", "--workers", "0", "--addr", "127.0.0.1:0"}, tt.args...)...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if last := lines[len(lines)-1]; code != 2 || !strings.Contains(last, tt.want) {
			t.Errorf("queue %v: exit %d, last line %q; want 2 and %q", tt.args, code, last, tt.want)
		}
	}
}
