//go:build unix

package server

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAnswerBacklogEndsThoughClientsKeepComing: answerBacklog answers
// 503 to what it finds, and returns though clients keep connecting (each
// connect gave it another 20 ms: a load balancer not yet told
// would have held a stopping supervisor up until its SIGKILL).
func TestAnswerBacklogEndsThoughClientsKeepComing(t *testing.T) {
	t.Parallel()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	stop := make(chan struct{})
	var clients sync.WaitGroup
	var answered atomic.Int64
	for range 4 { // four clients, each connecting every 2 ms
		clients.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				clients.Go(func() {
					if post(ln.Addr().String()) == http.StatusServiceUnavailable {
						answered.Add(1)
					}
				})
			}
		})
	}
	done := make(chan struct{})
	go func() {
		answerBacklog(ln)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Error("answerBacklog still accepting after 10 s of clients coming")
	}
	close(stop)
	ln.Close() // what came after answerBacklog returned is refused or reset
	clients.Wait()
	if answered.Load() == 0 {
		t.Error("no client was answered 503")
	}
	t.Logf("%d clients answered 503", answered.Load())
}

// post sends a POST on a connection of its own and returns the status
// of the answer, 0 if none came.
func post(addr string) int {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("POST /flip HTTP/1.1\r\nHost: flipbench\r\nContent-Length: 0\r\n\r\n")); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
