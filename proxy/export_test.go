package proxy

import "time"

// SetBridgeDeleteGrace shortens the bridge delete grace for a test and
// returns a function restoring it.
func SetBridgeDeleteGrace(d time.Duration) (restore func()) {
	old := bridgeDeleteGrace
	bridgeDeleteGrace = d
	return func() { bridgeDeleteGrace = old }
}

// SetWedgeAfter changes how long an event may be in handling before the
// server counts as wedged, and returns a function restoring it.
func SetWedgeAfter(d time.Duration) (restore func()) {
	old := wedgeAfter
	wedgeAfter = d
	return func() { wedgeAfter = old }
}

// LockDialogs takes the dialog table's lock, as a bug that never released
// it would, and returns the function releasing it.
func LockDialogs(s *Server) (unlock func()) {
	s.dialogs.mu.Lock()
	return s.dialogs.mu.Unlock
}
