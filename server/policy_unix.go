//go:build linux || darwin

package server

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"time"
)

// policy is how the supervisor's front dispatches under one of the
// policies in which it accepts (rr and free): what it does with a
// connection it has just accepted, where a request waits, and which
// waiting request goes to which worker next. The front does the rest
// alike for both: the bound on waiting, 503s, handoffs, workers that
// come and go, the stop.
type policy interface {
	// admit takes a connection the front has just accepted. It is
	// called without f.mu.
	admit(f *front, p *pending)
	// wait puts p in line for a worker: at the back, or first (a
	// handoff that failed). Call with f.mu held.
	wait(f *front, p *pending, first bool)
	// next takes the next request to hand over and the worker it goes
	// to; nil if none can go now. Call with f.mu held.
	next(f *front) (*frontWorker, *pending)
	// attached is told that a worker is ready to take connections. Call
	// with f.mu held.
	attached(f *front)
}

// policyFor returns the front's policy under sched, rr or free.
func policyFor(sched string) policy {
	if sched == SchedRR {
		return rrPolicy{}
	}
	return freePolicy{}
}

// freePolicy reads each request head under a deadline, answers /healthz
// and /metrics itself, and queues the rest in the supervisor, first come
// first served, until a worker has a free slot: the oldest waiting
// request goes to the least busy worker.
type freePolicy struct{}

// admit starts reading p's head, in a goroutine of its own, unless
// maxReading heads are being read already.
func (freePolicy) admit(f *front, p *pending) {
	// The deadline is set before stop can see the connection, so that
	// stop's deadline is the one that stays. One that comes during the
	// stop has quietHeadWait for its head, as rr's has, then its 503: the
	// supervisor's exit waits for it.
	p.conn.SetReadDeadline(p.accepted.Add(DefaultReadHeaderTimeout))
	f.mu.Lock()
	if f.stopping {
		p.conn.SetReadDeadline(p.accepted.Add(quietHeadWait))
	}
	full := len(f.reading) >= maxReading
	if !full {
		f.reading[p] = struct{}{}
	}
	f.mu.Unlock()
	if full {
		f.reject(p, http.StatusServiceUnavailable, "too many connections")
		return
	}
	f.replies.Go(func() { f.readHead(p) })
}

func (freePolicy) wait(f *front, p *pending, first bool) {
	if first {
		f.waiting = append([]*pending{p}, f.waiting...)
	} else {
		f.waiting = append(f.waiting, p)
	}
}

func (freePolicy) next(f *front) (*frontWorker, *pending) {
	w := f.freeWorker()
	if w == nil || len(f.waiting) == 0 {
		return nil, nil
	}
	p := f.waiting[0]
	f.waiting = f.waiting[1:]
	return w, p
}

func (freePolicy) attached(*front) {}

// rrPolicy hands each connection, unread, to the next worker in turn,
// busy or not, as Node.js cluster does: it waits in that worker's own
// queue (in the supervisor) until the worker has a free slot. While no
// worker is ready, connections wait in the supervisor's queue.
type rrPolicy struct{}

func (rrPolicy) admit(f *front, p *pending) { f.enqueue(p) }

func (rrPolicy) wait(f *front, p *pending, first bool) {
	w := f.nextReady()
	switch {
	case w == nil && first:
		f.waiting = append([]*pending{p}, f.waiting...)
	case w == nil: // no worker ready: wait for the first
		f.waiting = append(f.waiting, p)
	case first:
		w.rr = append([]*pending{p}, w.rr...)
	default:
		w.rr = append(w.rr, p)
	}
}

func (rrPolicy) next(f *front) (*frontWorker, *pending) {
	for _, w := range f.workers {
		if w.uc != nil && w.inflight < f.slots && len(w.rr) > 0 {
			p := w.rr[0]
			w.rr = w.rr[1:]
			return w, p
		}
	}
	return nil, nil
}

// attached gives the connections that came before any worker was ready
// to the workers in turn.
func (rr rrPolicy) attached(f *front) {
	early := f.waiting
	f.waiting = nil
	for _, p := range early {
		rr.wait(f, p, false)
	}
}

// readHead reads the request head of p under a deadline, then routes it:
// /healthz and /metrics to the supervisor's own server, the rest in line
// for a worker. (The free policy's.)
func (f *front) readHead(p *pending) {
	defer func() {
		f.mu.Lock()
		delete(f.reading, p)
		f.mu.Unlock()
	}()
	buf := make([]byte, 0, 1024)
	for !bytes.Contains(buf, []byte("\r\n\r\n")) {
		if len(buf) >= maxHeadBytes {
			p.read = buf // no need to read more before answering
			f.reject(p, http.StatusRequestHeaderFieldsTooLarge, "")
			return
		}
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		n, err := p.conn.Read(buf[len(buf):min(cap(buf), maxHeadBytes)])
		buf = buf[:len(buf)+n]
		if err != nil {
			f.headFailed(p, buf, err)
			return
		}
	}
	p.conn.SetReadDeadline(time.Time{})
	p.read = buf
	method, path := requestLine(buf)
	if (method == http.MethodGet || method == http.MethodHead) && (path == "/healthz" || path == "/metrics") {
		f.admin.push(&prefixConn{Conn: p.conn, read: bytes.NewReader(buf)})
		return
	}
	f.enqueue(p)
}

// headFailed answers a connection whose head did not arrive whole, at
// once: what came (buf) is all that will.
func (f *front) headFailed(p *pending, buf []byte, err error) {
	var ne net.Error
	timeout := errors.As(err, &ne) && ne.Timeout()
	f.mu.Lock()
	stopping := f.stopping
	f.mu.Unlock()
	p.read = buf
	switch {
	case timeout && stopping:
		f.reject(p, http.StatusServiceUnavailable, "stopping")
	case timeout && len(buf) > 0:
		f.reject(p, http.StatusRequestTimeout, "")
	default:
		p.conn.Close() // gone, or idle until the deadline: nothing to answer
	}
}
