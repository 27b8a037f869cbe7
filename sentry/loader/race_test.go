//go:build race

package loader

// raceEnabled is set when the tests are built with the race detector.
const raceEnabled = true
