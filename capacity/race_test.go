//go:build race

package capacity

// raceDetector is true in a test binary built with -race, whose pass of
// every package at once leaves no CPU for a timing test.
const raceDetector = true
