//go:build !race

package main_test

// raceDetector: see race_test.go.
const raceDetector = false
