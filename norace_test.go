//go:build !race

package iroh_test

const raceEnabled = false
