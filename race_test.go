//go:build race

package iroh_test

// raceEnabled: the race detector slows every packet down several times.
const raceEnabled = true
