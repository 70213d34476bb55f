package arisim

import (
	_ "embed"
	"encoding/json"
	"slices"
	"strings"
)

// --- /asterisk ---

func (s *Sim) hGetInfo(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	only := r.list("only")
	show := func(section string) bool {
		if len(only) == 0 {
			return true
		}
		for _, o := range only {
			if strings.EqualFold(o, section) {
				return true
			}
		}
		return false
	}
	o := newObj()
	if show("build") {
		o.raw("build", newObj().str("os", "Linux").str("kernel", "6.18.44-fc-v595").
			str("machine", "x86_64").str("options", "OPTIONAL_API").
			str("date", "2026-11-22 02:32:02 UTC").str("user", "root").done())
	}
	if show("system") {
		o.raw("system", newObj().str("version", "UNKNOWN__and_probably_unsupported").
			str("entity_id", s.eid).done())
	}
	if show("config") {
		o.raw("config", newObj().str("name", "").str("default_language", "en").
			raw("setid", newObj().str("user", "").str("group", "").done()).done())
	}
	if show("status") {
		o.raw("status", newObj().str("startup_time", stamp(s.startTime)).
			str("last_reload_time", stamp(s.reloadTime)).done())
	}
	return okRaw(o.done())
}

func (s *Sim) hPing(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	return okRaw(newObj().str("ping", "pong").str("timestamp", stamp(now())).str("asterisk_id", s.eid).done())
}

// module is a module of the simulated Asterisk.
type module struct {
	name, description, support string
	useCount                   int
	loaded, reloadable         bool
}

// defaultModules lists the modules of an Asterisk 22 built without a SIP
// stack, as the recorded one.
func defaultModules(mailboxes bool) []*module {
	list := []*module{
		{name: "app_dial.so", description: "Dialing Application", support: "core", loaded: true},
		{name: "app_echo.so", description: "Simple Echo Application", support: "core", loaded: true},
		{name: "app_playback.so", description: "Sound File Playback Application", support: "core", loaded: true},
		{name: "app_stasis.so", description: "Stasis dialplan application", support: "core", loaded: true},
		{name: "app_record.so", description: "Trivial Record Application", support: "core", loaded: true},
		{name: "app_senddtmf.so", description: "Send DTMF digits Application", support: "core", loaded: true},
		{name: "bridge_builtin_features.so", description: "Built in bridging features", support: "core", loaded: true},
		{name: "bridge_holding.so", description: "Holding bridge module", support: "core", loaded: true},
		{name: "bridge_native_rtp.so", description: "Native RTP bridging module", support: "core", loaded: true},
		{name: "bridge_simple.so", description: "Simple two channel bridging module", support: "core", loaded: true},
		{name: "bridge_softmix.so", description: "Multi-party software based channel mixing", support: "core", loaded: true},
		{name: "chan_audiosocket.so", description: "AudioSocket Channel", support: "extended", loaded: true},
		{name: "chan_bridge_media.so", description: "Bridge Media Channel Driver", support: "core", loaded: true},
		{name: "chan_rtp.so", description: "RTP Media Channel", support: "core", loaded: true},
		{name: "codec_alaw.so", description: "A-law Coder/Decoder", support: "core", loaded: true},
		{name: "codec_gsm.so", description: "GSM Coder/Decoder", support: "core", loaded: true},
		{name: "codec_ulaw.so", description: "mu-Law Coder/Decoder", support: "core", loaded: true},
		{name: "format_gsm.so", description: "Raw GSM data", support: "core", loaded: true},
		{name: "format_pcm.so", description: "Raw/Sun uLaw/ALaw 8KHz (PCM,PCMA,AU), G.722 16Khz", support: "core", loaded: true},
		{name: "format_sln.so", description: "Raw Signed Linear Audio support (SLN) 8khz-192khz", support: "core", loaded: true},
		{name: "format_wav.so", description: "Microsoft WAV/WAV16 format (8kHz/16kHz Signed Linear)", support: "core", loaded: true},
		{name: "format_wav_gsm.so", description: "Microsoft WAV format (Proprietary GSM)", support: "core", loaded: true},
		{name: "func_callerid.so", description: "Party ID related dialplan functions (Caller-ID, Connected-line, Redirecting)", support: "core", loaded: true},
		{name: "func_channel.so", description: "Channel information dialplan functions", support: "core", loaded: true},
		{name: "func_devstate.so", description: "Gets or sets a device state in the dialplan", support: "core", loaded: true},
		{name: "pbx_config.so", description: "Text Extension Configuration", support: "core", loaded: true, reloadable: true},
		{name: "res_ari.so", description: "Asterisk RESTful Interface", support: "core", loaded: true, reloadable: true, useCount: 12},
		{name: "res_ari_applications.so", description: "RESTful API module - Stasis application resources", support: "core", loaded: true},
		{name: "res_ari_asterisk.so", description: "RESTful API module - Asterisk resources", support: "core", loaded: true},
		{name: "res_ari_bridges.so", description: "RESTful API module - Bridge resources", support: "core", loaded: true},
		{name: "res_ari_channels.so", description: "RESTful API module - Channel resources", support: "core", loaded: true},
		{name: "res_ari_device_states.so", description: "RESTful API module - Device state resources", support: "core", loaded: true},
		{name: "res_ari_endpoints.so", description: "RESTful API module - Endpoint resources", support: "core", loaded: true},
		{name: "res_ari_events.so", description: "RESTful API module - WebSocket resource", support: "core", loaded: true},
		{name: "res_ari_mailboxes.so", description: "RESTful API module - Mailboxes resources", support: "core", loaded: mailboxes},
		{name: "res_ari_model.so", description: "ARI Model validators", support: "core", loaded: true},
		{name: "res_ari_playbacks.so", description: "RESTful API module - Playback control resources", support: "core", loaded: true},
		{name: "res_ari_recordings.so", description: "RESTful API module - Recording resources", support: "core", loaded: true},
		{name: "res_ari_sounds.so", description: "RESTful API module - Sound resources", support: "core", loaded: true},
		{name: "res_http_websocket.so", description: "HTTP WebSocket Support", support: "core", loaded: true, useCount: 1},
		{name: "res_mwi_external.so", description: "Core external MWI resource", support: "core", loaded: mailboxes},
		{name: "res_musiconhold.so", description: "Music On Hold Resource", support: "core", loaded: true, reloadable: true},
		{name: "res_sorcery_astdb.so", description: "Sorcery Astdb Object Wizard", support: "core", loaded: true},
		{name: "res_sorcery_config.so", description: "Sorcery Configuration File Object Wizard", support: "core", loaded: true},
		{name: "res_sorcery_memory.so", description: "Sorcery In-Memory Object Wizard", support: "core", loaded: true},
		{name: "res_stasis.so", description: "Stasis application support", support: "core", loaded: true, useCount: 14},
		{name: "res_stasis_answer.so", description: "Stasis application answer support", support: "core", loaded: true},
		{name: "res_stasis_device_state.so", description: "Stasis application device state support", support: "core", loaded: true},
		{name: "res_stasis_mailbox.so", description: "Stasis application mailbox support", support: "core", loaded: mailboxes},
		{name: "res_stasis_playback.so", description: "Stasis application playback support", support: "core", loaded: true},
		{name: "res_stasis_recording.so", description: "Stasis application recording support", support: "core", loaded: true},
		{name: "res_stasis_snoop.so", description: "Stasis application snoop support", support: "extended", loaded: true},
		{name: "res_timing_timerfd.so", description: "Timerfd Timing Interface", support: "core", loaded: true},
	}
	return list
}

func (s *Sim) module(name string) *module {
	for _, m := range s.state.modules {
		if m.name == name {
			return m
		}
	}
	return nil
}

func (m *module) json() moduleJSON {
	return moduleJSON{m.name, m.description, m.useCount, "Running", m.support}
}

func (s *Sim) hListModules(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []moduleJSON{}
	for _, m := range s.state.modules {
		if m.loaded {
			out = append(out, m.json())
		}
	}
	return okJSON(out)
}

func (s *Sim) hGetModule(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.module(r.str("moduleName"))
	if m == nil || !m.loaded {
		return fail(404, "Module could not be found in running modules")
	}
	return okJSON(m.json())
}

func (s *Sim) hLoadModule(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.module(r.str("moduleName"))
	if m != nil && m.loaded {
		return fail(409, "Module is already loaded")
	}
	if m == nil {
		return fail(409, "Module load declined")
	}
	m.loaded = true
	return noContent()
}

func (s *Sim) hUnloadModule(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.module(r.str("moduleName"))
	if m == nil || !m.loaded {
		return fail(404, "Module not found in running modules")
	}
	if m.useCount > 0 || m.name == "res_ari_asterisk.so" {
		return fail(409, "Module could not be unloaded")
	}
	m.loaded = false
	return noContent()
}

func (s *Sim) hReloadModule(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.module(r.str("moduleName"))
	if m == nil || !m.loaded {
		return fail(404, "Module not found in running modules")
	}
	if !m.reloadable {
		return fail(409, "Module does not support reloading")
	}
	s.reloadTime = now()
	return noContent()
}

// moduleLoaded tells whether an optional ARI resource is available.
func (s *Sim) moduleLoaded(name string) bool {
	m := s.module(name)
	return m != nil && m.loaded
}

// logChannel is a logger channel (logger.c).
type logChannel struct {
	filename, typ, config string
	dynamic               bool
}

func defaultLogChannels() []*logChannel {
	return []*logChannel{
		{filename: "/var/log/asterisk/messages.log", typ: "File", config: "NOTICE WARNING ERROR VERBOSE "},
		{filename: "", typ: "Console", config: "NOTICE WARNING ERROR VERBOSE "},
	}
}

// logFilename is make_filename: relative names live in the log directory.
func logFilename(name string) string {
	if strings.HasPrefix(name, "/") {
		return name
	}
	return "/var/log/asterisk/" + name
}

// logLevels in logger.c order.
var logLevels = []string{"DEBUG", "TRACE", "NOTICE", "WARNING", "ERROR", "VERBOSE", "DTMF"}

func logConfiguration(components string) string {
	set := map[string]bool{}
	for _, c := range strings.Split(components, ",") {
		c = strings.ToUpper(strings.TrimSpace(c))
		if i := strings.IndexByte(c, '('); i >= 0 {
			c = c[:i]
		}
		if c == "*" {
			for _, l := range logLevels {
				set[l] = true
			}
			continue
		}
		set[c] = true
	}
	var b strings.Builder
	for _, l := range logLevels {
		if set[l] {
			b.WriteString(l + " ")
		}
	}
	return b.String()
}

func (s *Sim) hListLogChannels(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]logChannelJSON, 0, len(s.state.logChans))
	for _, l := range s.state.logChans {
		out = append(out, logChannelJSON{l.filename, l.typ, "Enabled", l.config})
	}
	return okJSON(out)
}

func (s *Sim) hAddLog(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, conf := r.str("logChannelName"), r.str("configuration")
	if conf == "" {
		return fail(400, "Configuration levels are required")
	}
	fn := logFilename(name)
	for _, l := range s.state.logChans {
		if l.filename == fn || (strings.EqualFold(name, "console") && l.typ == "Console") {
			return fail(409, "Log channel already exists")
		}
	}
	s.state.logChans = append(s.state.logChans, &logChannel{filename: fn, typ: "File",
		config: logConfiguration(conf), dynamic: true})
	return noContent()
}

func (s *Sim) hDeleteLog(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	// ast_logger_remove_channel compares the name with the channel's full
	// file name, so only an absolute name finds a dynamic channel.
	name := r.str("logChannelName")
	i := slices.IndexFunc(s.state.logChans, func(l *logChannel) bool { return l.dynamic && l.filename == name })
	if i < 0 {
		return fail(404, "Log channel does not exist")
	}
	s.state.logChans = slices.Delete(s.state.logChans, i, i+1)
	return noContent()
}

func (s *Sim) hRotateLog(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn := logFilename(r.str("logChannelName"))
	found := slices.ContainsFunc(s.state.logChans, func(l *logChannel) bool { return l.typ == "File" && l.filename == fn })
	// Rotation reloads logger.conf, which forgets the channels added at
	// run time.
	s.state.logChans = slices.DeleteFunc(s.state.logChans, func(l *logChannel) bool { return l.dynamic })
	if !found {
		return fail(404, "Log channel does not exist")
	}
	return noContent()
}

func (s *Sim) hGetGlobalVar(r *req) resp {
	name := r.str("variable")
	if name == "" {
		return fail(400, "Variable name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return okJSON(variableJSON{s.state.globals[name]})
}

func (s *Sim) hSetGlobalVar(r *req) resp {
	name := r.str("variable")
	if name == "" {
		return fail(400, "Variable name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := r.str("value"); v != "" {
		s.state.globals[name] = v
	} else {
		delete(s.state.globals, name)
	}
	return noContent()
}

// The simulated Asterisk has no sorcery-backed configuration class (no
// res_pjsip), so every dynamic configuration request finds no class.
func (s *Sim) hGetObject(r *req) resp {
	return fail(404, "configClass '%s' not found", r.str("configClass"))
}

func (s *Sim) hUpdateObject(r *req) resp {
	return fail(404, "configClass '%s' not found", r.str("configClass"))
}

func (s *Sim) hDeleteObject(r *req) resp {
	return fail(404, "configClass '%s' not found", r.str("configClass"))
}

// --- /sounds ---

//go:embed sounds.txt
var soundsList string

var soundIDs = func() []string {
	var ids []string
	for _, l := range strings.Split(soundsList, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			ids = append(ids, l)
		}
	}
	return ids
}()

var soundSet = func() map[string]bool {
	m := map[string]bool{}
	for _, id := range soundIDs {
		m[id] = true
	}
	return m
}()

func soundExists(id string) bool { return soundSet[id] }

func soundBody(id string) soundJSON {
	return soundJSON{ID: id, Formats: []soundFormatJSON{{"en", "gsm"}}}
}

func (s *Sim) hSoundsList(r *req) resp {
	lang, format := r.str("lang"), r.str("format")
	if (lang != "" && lang != "en") || (format != "" && format != "gsm") {
		return fail(404, "No sounds found that matched the query")
	}
	out := make([]soundJSON, 0, len(soundIDs))
	for _, id := range soundIDs {
		out = append(out, soundBody(id))
	}
	return okJSON(out)
}

func (s *Sim) hSoundGet(r *req) resp {
	id := r.str("soundId")
	if !soundExists(id) {
		return fail(404, "Sound not found")
	}
	return okJSON(soundBody(id))
}

// --- /deviceStates ---

var deviceStateNames = []string{"NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD"}

func (s *Sim) hDeviceStatesList(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]deviceStateJSON, 0, len(s.state.devOrder))
	for _, n := range s.state.devOrder {
		out = append(out, deviceStateJSON{n, s.state.devStates[n]})
	}
	return okJSON(out)
}

func (s *Sim) hDeviceStateGet(r *req) resp {
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

func (s *Sim) hDeviceStateUpdate(r *req) resp {
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

func (s *Sim) hDeviceStateDelete(r *req) resp {
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

// --- /mailboxes (res_ari_mailboxes.so, not loaded on the recorded Asterisk) ---

type mailbox struct {
	name           string
	oldMsg, newMsg int
	seq            uint64
}

func (s *Sim) mailboxesLoaded() bool { return s.moduleLoaded("res_ari_mailboxes.so") }

func (s *Sim) hMailboxesList(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mailboxesLoaded() {
		return fail(404, "Resource not found")
	}
	list := make([]*mailbox, 0, len(s.state.mailboxes))
	for _, m := range s.state.mailboxes {
		list = append(list, m)
	}
	sortBy(list, func(m *mailbox) uint64 { return m.seq })
	out := make([]mailboxJSON, 0, len(list))
	for _, m := range list {
		out = append(out, mailboxJSON{m.name, m.oldMsg, m.newMsg})
	}
	return okJSON(out)
}

func (s *Sim) hMailboxGet(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mailboxesLoaded() {
		return fail(404, "Resource not found")
	}
	m := s.state.mailboxes[r.str("mailboxName")]
	if m == nil {
		return fail(404, "Mailbox not found")
	}
	return okJSON(mailboxJSON{m.name, m.oldMsg, m.newMsg})
}

func (s *Sim) hMailboxUpdate(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mailboxesLoaded() {
		return fail(404, "Resource not found")
	}
	name := r.str("mailboxName")
	m := s.state.mailboxes[name]
	if m == nil {
		s.state.storedSeq++
		m = &mailbox{name: name, seq: s.state.storedSeq}
		s.state.mailboxes[name] = m
	}
	m.oldMsg, m.newMsg = r.int("oldMessages", 0), r.int("newMessages", 0)
	return noContent()
}

func (s *Sim) hMailboxDelete(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.mailboxesLoaded() {
		return fail(404, "Resource not found")
	}
	name := r.str("mailboxName")
	if s.state.mailboxes[name] == nil {
		return fail(404, "Mailbox not found")
	}
	delete(s.state.mailboxes, name)
	return noContent()
}

// --- /endpoints: no channel driver with endpoints is loaded ---

func (s *Sim) hEndpointsList(r *req) resp { return okRaw([]byte("[]")) }

func (s *Sim) hEndpointsByTech(r *req) resp {
	return fail(404, "No Endpoints found - invalid tech %s", r.str("tech"))
}

func (s *Sim) hEndpointGet(r *req) resp { return fail(404, "Endpoint not found") }

// hEndpointMessage is sendMessage, sendMessageToEndpoint, refer and
// referToEndpoint: the body's variables are checked, then, with no message
// technology or endpoint loaded, ast_msg_send (or the refer) fails.
func (s *Sim) hEndpointMessage(r *req) resp {
	if _, e := jsonVariables(r.body); e != nil {
		return *e
	}
	return fail(404, "Endpoint not found")
}

// --- /applications ---

func (s *Sim) appBody(a *app) applicationJSON {
	j := applicationJSON{Name: a.name, ChannelIDs: slices.Clone(a.chanOrder), BridgeIDs: slices.Clone(a.bridgeOrd),
		EndpointIDs: []string{}, DeviceNames: slices.Clone(a.deviceOrd),
		EventsAllowed: slices.Clone(a.allowed), EventsDisallowed: slices.Clone(a.disallowed)}
	if j.ChannelIDs == nil {
		j.ChannelIDs = []string{}
	}
	if j.BridgeIDs == nil {
		j.BridgeIDs = []string{}
	}
	if j.DeviceNames == nil {
		j.DeviceNames = []string{}
	}
	if j.EventsAllowed == nil {
		j.EventsAllowed = []json.RawMessage{}
	}
	if j.EventsDisallowed == nil {
		j.EventsDisallowed = []json.RawMessage{}
	}
	return j
}

func (s *Sim) sortedAppNames() []string {
	names := make([]string, 0, len(s.state.apps))
	for n := range s.state.apps {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (s *Sim) hApplicationsList(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []applicationJSON{}
	for _, n := range s.sortedAppNames() {
		out = append(out, s.appBody(s.state.apps[n]))
	}
	return okJSON(out)
}

func (s *Sim) hApplicationGet(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.state.apps[r.str("applicationName")]
	if a == nil {
		return fail(404, "Application not found")
	}
	return okJSON(s.appBody(a))
}

// eventSource is a parsed event source URI (channel:, bridge:, endpoint:,
// deviceState:).
type eventSource struct{ scheme, id string }

func parseSources(list []string) ([]eventSource, bool) {
	var out []eventSource
	for _, src := range list {
		scheme, id, ok := strings.Cut(src, ":")
		switch {
		case !ok:
			return nil, false
		case scheme == "channel", scheme == "bridge", scheme == "endpoint", scheme == "deviceState":
			out = append(out, eventSource{scheme, id})
		default:
			return nil, false
		}
	}
	return out, true
}

func (s *Sim) sourceExists(src eventSource) bool {
	switch src.scheme {
	case "channel":
		return s.state.channels[src.id] != nil
	case "bridge":
		return s.state.bridges[src.id] != nil
	case "endpoint":
		return false // no endpoints: no SIP stack
	case "deviceState":
		return src.id != ""
	}
	return false
}

// interest is the application's interest counts and their order for the
// sources of one scheme; nil for a scheme it cannot subscribe to.
func (a *app) interest(scheme string) (map[string]int, *[]string) {
	switch scheme {
	case "channel":
		return a.chans, &a.chanOrder
	case "bridge":
		return a.bridges, &a.bridgeOrd
	case "deviceState":
		return a.devices, &a.deviceOrd
	}
	return nil, nil
}

// subscription reads the application and the event sources of a
// (un)subscribe request, or the error Asterisk answers. The caller holds
// s.mu.
func (s *Sim) subscription(r *req) (*app, []eventSource, *resp) {
	list := r.list("eventSource")
	if len(list) == 0 {
		e := fail(400, "Missing parameter eventSource")
		return nil, nil, &e
	}
	a := s.state.apps[r.str("applicationName")]
	if a == nil {
		e := fail(404, "Application not found")
		return nil, nil, &e
	}
	srcs, ok := parseSources(list)
	if !ok {
		e := fail(400, "Invalid event source URI scheme")
		return nil, nil, &e
	}
	return a, srcs, nil
}

func (s *Sim) hSubscribe(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, srcs, e := s.subscription(r)
	if e != nil {
		return *e
	}
	for _, src := range srcs {
		if !s.sourceExists(src) {
			return fail(422, "Event source does not exist")
		}
	}
	for _, src := range srcs {
		if m, order := a.interest(src.scheme); m != nil {
			addInterest(m, order, src.id)
		}
	}
	return okJSON(s.appBody(a))
}

func (s *Sim) hUnsubscribe(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, srcs, e := s.subscription(r)
	if e != nil {
		return *e
	}
	for _, src := range srcs {
		if m, _ := a.interest(src.scheme); m[src.id] <= 0 {
			return fail(422, "Event source was not subscribed to")
		}
	}
	for _, src := range srcs {
		if m, order := a.interest(src.scheme); m != nil {
			dropInterest(m, order, src.id, false)
		}
	}
	return okJSON(s.appBody(a))
}

// hFilter is PUT /applications/{app}/eventFilter: the whole body is the
// filter; {} resets both lists, a missing member leaves its list as is.
func (s *Sim) hFilter(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.state.apps[r.str("applicationName")]
	if a == nil {
		return fail(404, "Application not found")
	}
	bad := fail(400, "Invalid format definition")
	set := func(member string) ([]json.RawMessage, bool, bool) {
		if r.rawObj == nil || r.body == nil || len(r.body) == 0 {
			if r.rawObj != nil && r.body == nil {
				return nil, false, false // not an object
			}
			return nil, true, true
		}
		raw, ok := r.body[member]
		if !ok {
			return nil, false, true
		}
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			return nil, false, false
		}
		for _, f := range list {
			var m map[string]json.RawMessage
			var typ string
			if json.Unmarshal(f, &m) != nil || json.Unmarshal(m["type"], &typ) != nil || typ == "" {
				return nil, false, false
			}
		}
		if list == nil {
			list = []json.RawMessage{}
		}
		return list, true, true
	}
	allowed, setA, okA := set("allowed")
	if !okA {
		return bad
	}
	disallowed, setD, okD := set("disallowed")
	if !okD {
		return bad
	}
	if setA {
		a.allowed = compactAll(allowed)
	}
	if setD {
		a.disallowed = compactAll(disallowed)
	}
	return okJSON(s.appBody(a))
}

func compactAll(list []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, 0, len(list))
	for _, f := range list {
		var v any
		_ = json.Unmarshal(f, &v)
		out = append(out, jsonOf(v))
	}
	return out
}

// --- /events ---

// hEventWebsocketHTTP: /events reached without a WebSocket upgrade.
func (s *Sim) hEventWebsocketHTTP(r *req) resp {
	return resp{status: 426, body: []byte("Upgrade Required"), ctype: "text/plain"}
}

func (s *Sim) hUserEvent(r *req) resp {
	appName := r.str("application")
	if appName == "" {
		return fail(400, "Missing parameter application")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.state.apps[appName]
	if a == nil || a.conn == nil {
		return fail(404, "Application not found")
	}
	srcs, ok := parseSources(r.list("source"))
	if !ok {
		return fail(400, "Invalid event source URI scheme")
	}
	for _, src := range srcs {
		if !s.sourceExists(src) || src.scheme == "deviceState" {
			return fail(422, "Event source was not found")
		}
	}
	userevent := newObj()
	if raw, ok := r.body["variables"]; ok && string(raw) != "null" {
		members, isObj := orderedMembers(raw)
		if !isObj {
			return fail(400, "Invalid userevnet data")
		}
		for _, m := range members {
			userevent.raw(m.k, compactRaw(m.v))
		}
	}
	name := r.str("eventName")
	userevent.str("eventname", name)
	o := evb("ChannelUserevent").str("eventname", name).raw("userevent", userevent.done())
	for _, src := range srcs {
		switch src.scheme {
		case "channel":
			o.val("channel", channelBody(s.state.channels[src.id]))
		case "bridge":
			o.val("bridge", bridgeBody(s.state.bridges[src.id]))
		}
	}
	s.emit(&event{typ: "ChannelUserevent", body: s.finish(o), app: appName})
	return noContent()
}

func compactRaw(v json.RawMessage) []byte {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return v
	}
	return jsonOf(x)
}

// hClaimChannel: no channel is ever in the broadcast state here.
func (s *Sim) hClaimChannel(r *req) resp {
	return fail(404, "Channel not found or not in broadcast state")
}

func (s *Sim) mailboxesAvailable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mailboxesLoaded()
}
