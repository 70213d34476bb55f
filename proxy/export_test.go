package proxy

import "time"

// SetBridgeDeleteGrace shortens the bridge delete grace for a test and
// returns a function restoring it.
func SetBridgeDeleteGrace(d time.Duration) (restore func()) {
	old := bridgeDeleteGrace
	bridgeDeleteGrace = d
	return func() { bridgeDeleteGrace = old }
}

// SetStasisEndCheckDelay shortens the delay of the check after a bound
// channel's StasisEnd and returns a function restoring it.
func SetStasisEndCheckDelay(d time.Duration) (restore func()) {
	old := stasisEndCheckDelay
	stasisEndCheckDelay = d
	return func() { stasisEndCheckDelay = old }
}
