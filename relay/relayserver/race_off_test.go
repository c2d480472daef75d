//go:build !race

package relayserver_test

const raceEnabled = false
