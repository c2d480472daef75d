//go:build race

package relayserver_test

const raceEnabled = true
