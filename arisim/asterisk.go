package arisim

import (
	"slices"
	"strings"
)

// The /asterisk resource (res/ari/resource_asterisk.c): system
// information, modules, logging, global variables and dynamic
// configuration objects.

type moduleJSON struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	UseCount     int    `json:"use_count"`
	Status       string `json:"status"`
	SupportLevel string `json:"support_level"`
}

type logChannelJSON struct {
	Channel       string `json:"channel"`
	Type          string `json:"type"`
	Status        string `json:"status"`
	Configuration string `json:"configuration"`
}

func (s api) AsteriskGetInfo(r *req) resp {
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
		o.raw("system", newObj().str("version", asteriskVersion).
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

func (s api) AsteriskPing(r *req) resp {
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

func (s api) AsteriskListModules(r *req) resp {
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

func (s api) AsteriskGetModule(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.module(r.str("moduleName"))
	if m == nil || !m.loaded {
		return fail(404, "Module could not be found in running modules")
	}
	return okJSON(m.json())
}

func (s api) AsteriskLoadModule(r *req) resp {
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

func (s api) AsteriskUnloadModule(r *req) resp {
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

func (s api) AsteriskReloadModule(r *req) resp {
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

func (s api) AsteriskListLogChannels(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]logChannelJSON, 0, len(s.state.logChans))
	for _, l := range s.state.logChans {
		out = append(out, logChannelJSON{l.filename, l.typ, "Enabled", l.config})
	}
	return okJSON(out)
}

func (s api) AsteriskAddLog(r *req) resp {
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

func (s api) AsteriskDeleteLog(r *req) resp {
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

func (s api) AsteriskRotateLog(r *req) resp {
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

func (s api) AsteriskGetGlobalVar(r *req) resp {
	name := r.str("variable")
	if name == "" {
		return fail(400, "Variable name is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return okJSON(variableJSON{s.state.globals[name]})
}

func (s api) AsteriskSetGlobalVar(r *req) resp {
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
func (s api) AsteriskGetObject(r *req) resp {
	return fail(404, "configClass '%s' not found", r.str("configClass"))
}

func (s api) AsteriskUpdateObject(r *req) resp {
	return fail(404, "configClass '%s' not found", r.str("configClass"))
}

func (s api) AsteriskDeleteObject(r *req) resp {
	return fail(404, "configClass '%s' not found", r.str("configClass"))
}
