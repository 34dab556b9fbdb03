package loadgen

import (
	"strconv"
	"strings"

	"github.com/flipbench/flipbench/results"
)

// ErrorKind names the kind of a failed request from vegeta's error text
// and the status: "refused" (nothing listening), "dns" (the host name did
// not resolve), "tls" (the handshake or the certificate failed), "reset" (connection reset
// by the server), "timeout" (the request took longer than the timeout),
// "eof" (the server closed the connection without an answer), "canceled"
// (the run was interrupted), "http_NNN" (a non-2xx answer), or "other".
// It returns "" for a success.
func ErrorKind(status int, errText string) string {
	e := strings.ToLower(errText)
	switch {
	case errText == "" && status >= 200 && status < 300:
		return ""
	case status != 0 && (status < 200 || status >= 300):
		// An answer, even "504 Gateway Timeout", is the server's verdict,
		// not a transport failure.
		return "http_" + strconv.Itoa(status)
	case strings.Contains(e, "connection refused"):
		return "refused"
	case strings.Contains(e, "no such host"), strings.Contains(e, "server misbehaving"), strings.Contains(e, "lookup "):
		return "dns"
	case strings.Contains(e, "tls:"), strings.Contains(e, "x509:"):
		return "tls"
	case strings.Contains(e, "connection reset"), strings.Contains(e, "broken pipe"):
		return "reset"
	case strings.Contains(e, "timeout"), strings.Contains(e, "deadline exceeded"):
		return "timeout"
	case strings.Contains(e, "context canceled"), strings.Contains(e, errInterrupted.Error()):
		return results.KindCanceled
	case strings.Contains(e, "eof"):
		return "eof"
	case status != 0:
		return "http_" + strconv.Itoa(status)
	}
	return "other"
}
