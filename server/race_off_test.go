//go:build !race

package server_test

// raceDetector: the race detector is on (the pure-Go SQLite runs several times slower under it).
const raceDetector = false
