// Package httpfront is the HTTP plumbing that flipbench's fronts share: a
// cluster's worker and its supervisor (package server) and a queue's
// front (package queue). One place, so that both speak alike to clients
// and to monitoring:
//
//   - [Metrics]: the Prometheus metrics every front serves at /metrics,
//     under the same names, with the recent job time that Retry-After is
//     estimated from ([RetryAfter]);
//   - [Timing]: the middleware that stamps X-Worker-Pid and
//     X-Response-Time on every response ([TimedWriter]) and tells a
//     handler when its request arrived ([Received]);
//   - [WriteJSON] and [Error]: JSON bodies and JSON errors;
//   - [RequestBody]: a request's body, or none when it has no bytes;
//   - [NewServer]: the net/http server of a front, one request a
//     connection, with deadlines for the head and the whole request.
//
// It knows nothing of flips, jobs or queues.
package httpfront
