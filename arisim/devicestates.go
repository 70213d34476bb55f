package arisim

import (
	"slices"
	"strings"
)

// The /deviceStates resource (res/ari/resource_device_states.c): only
// Stasis: devices can be changed.

type deviceStateJSON struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

var deviceStateNames = []string{"NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD"}

func (s api) DeviceStatesList(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]deviceStateJSON, 0, len(s.state.devOrder))
	for _, n := range s.state.devOrder {
		out = append(out, deviceStateJSON{n, s.state.devStates[n]})
	}
	return okJSON(out)
}

func (s api) DeviceStatesGet(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.str("deviceName")
	state := "INVALID"
	if isStasisDevice(name) {
		state = "UNKNOWN"
		if v, ok := s.state.devStates[name]; ok {
			state = v
		}
	}
	return okJSON(deviceStateJSON{name, state})
}

func isStasisDevice(name string) bool {
	return len(name) >= 7 && strings.EqualFold(name[:7], "Stasis:")
}

func (s api) DeviceStatesUpdate(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.str("deviceName")
	if !isStasisDevice(name) {
		return fail(409, "Uncontrolled device specified")
	}
	if len(name) == 7 {
		return fail(404, "Device name is missing")
	}
	value := strings.ToUpper(r.str("deviceState"))
	if !slices.Contains(deviceStateNames, value) {
		return fail(500, "Unknown device")
	}
	if _, ok := s.state.devStates[name]; !ok {
		s.state.devOrder = append(s.state.devOrder, name)
	}
	s.state.devStates[name] = value
	s.emit(s.evDeviceState(name, value))
	return noContent()
}

func (s api) DeviceStatesDelete(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.str("deviceName")
	if !isStasisDevice(name) {
		return fail(409, "Uncontrolled device specified")
	}
	if len(name) == 7 {
		return fail(404, "Device name is missing")
	}
	if _, ok := s.state.devStates[name]; ok {
		delete(s.state.devStates, name)
		s.state.devOrder = slices.DeleteFunc(s.state.devOrder, func(x string) bool { return x == name })
	}
	return noContent()
}
