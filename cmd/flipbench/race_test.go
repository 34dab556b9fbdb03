//go:build race

package main_test

// raceDetector is true in a test binary built with -race. Such a run of
// `go test -race ./...` shares the CPUs with every other package's race
// run, several times slower each, so a test that needs two cores free to
// see two workers beat one cannot tell the machine's load from a
// regression; it runs in the plain pass instead.
const raceDetector = true
