//go:build !race

package capacity

// raceDetector: see race_test.go.
const raceDetector = false
