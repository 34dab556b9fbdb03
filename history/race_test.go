//go:build race

package history

// raceDetector is true in a test binary built with -race, where the
// error-rate test's thousands of sequential detections take a minute:
// it has no goroutines for the detector to watch, and runs in the plain
// pass.
const raceDetector = true
