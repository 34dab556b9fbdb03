//go:build !race

package history

// raceDetector: see race_test.go.
const raceDetector = false
