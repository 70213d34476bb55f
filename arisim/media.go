package arisim

import (
	"encoding/binary"
	"strings"
	"time"
)

// --- playbacks (res_stasis_playback.c) ---

// Playback states.
const (
	pbQueued = iota
	pbPlaying
	pbPaused
	pbContinuing
	pbStopped
	pbComplete
	pbCanceled
	pbFailed
)

type playback struct {
	id       string
	media    []string
	index    int
	target   string
	language string
	state    int
	skip     time.Duration
	offset   time.Duration // where the first media starts

	ch       *channel // the control that plays it (a channel or an announcer)
	chanID   string   // routing: the target channel
	bridgeID string   // routing: the target bridge

	controllable bool
	length       time.Duration // of the current media; 0 means until stopped
	pos          time.Duration // simulated position in the current media
	since        time.Time     // wall time the position was last taken
	timer        *time.Timer
}

func (p *playback) stateString() string {
	switch p.state {
	case pbQueued:
		return "queued"
	case pbPlaying:
		return "playing"
	case pbPaused:
		return "paused"
	case pbContinuing:
		return "continuing"
	case pbFailed:
		return "failed"
	}
	return "done"
}

func (p *playback) route(e *event) {
	if p.bridgeID != "" {
		e.bridges = []string{p.bridgeID}
		return
	}
	e.chans = []string{p.chanID}
}

// newPlayback creates a queued playback from a play request; nil when the
// media list is unusable (stasis_app_control_play_uri fails).
func (s *Sim) newPlayback(r *req, ctl *channel, target, lang string) *playback {
	raw, ok := r.vals["media"]
	if !ok {
		return nil
	}
	media := strings.Split(raw, ",")
	for _, m := range media {
		if m == "" {
			return nil
		}
	}
	id := r.str("playbackId")
	if id == "" {
		id = uuid()
	}
	skip := r.int("skipms", 0)
	if skip == 0 {
		skip = 3000
	}
	p := &playback{id: id, media: media, target: target, language: lang, state: pbQueued,
		skip:   time.Duration(skip) * time.Millisecond,
		offset: time.Duration(r.int("offsetms", 0)) * time.Millisecond, ch: ctl}
	s.state.playbacks[id] = p
	return p
}

// startPlayback is play_uri running on the control: it occupies the
// queue until the last media ends.
func (s *Sim) startPlayback(p *playback) bool {
	if s.state.playbacks[p.id] != p {
		return false
	}
	p.index = -1
	p.pos = p.offset
	return s.playNext(p)
}

// playNext starts the next media; false when the playback is over.
func (s *Sim) playNext(p *playback) bool {
	for {
		p.index++
		if p.index >= len(p.media) {
			p.index = len(p.media) - 1
			s.endPlayback(p)
			return false
		}
		if p.index > 0 {
			p.pos = 0
		}
		// playback_first_update
		if p.state == pbCanceled {
			s.emit(s.evPlayback("PlaybackFinished", p))
			s.endPlayback(p)
			return false
		}
		p.state = pbPlaying
		s.emit(s.evPlayback("PlaybackStarted", p))
		length, playable, exists, controllable := s.mediaInfo(p.media[p.index])
		if !playable {
			continue // unsupported URI: no final update at all
		}
		p.controllable = controllable
		if !exists {
			s.finalUpdate(p, false)
			if p.state == pbFailed {
				s.endPlayback(p)
				return false
			}
			continue
		}
		p.length = length
		if p.pos > length && length > 0 {
			p.pos = length
		}
		p.ch.active = p
		s.armPlayback(p)
		return true
	}
}

// armPlayback schedules the end of the current media.
func (s *Sim) armPlayback(p *playback) {
	s.cancel(p.timer)
	p.timer = nil
	p.since = time.Now()
	if p.length <= 0 {
		return // tones play until stopped
	}
	left := p.length - p.pos
	if left < 0 {
		left = 0
	}
	p.timer = s.after(s.scaled(left), func() { s.mediaDone(p) })
}

// position returns the simulated position, accounting for play time.
func (s *Sim) position(p *playback) time.Duration {
	if p.state != pbPlaying && p.state != pbContinuing {
		return p.pos
	}
	return p.pos + time.Duration(float64(time.Since(p.since))/s.scale)
}

// mediaDone: the current media played to its end.
func (s *Sim) mediaDone(p *playback) {
	p.timer = nil
	if s.state.playbacks[p.id] != p {
		return
	}
	s.finalUpdate(p, true)
	if p.state == pbComplete {
		s.endPlayback(p)
		s.releasePlayback(p)
		return
	}
	if !s.playNext(p) {
		s.releasePlayback(p)
	}
}

// finalUpdate is playback_final_update: the media ended well (ok) or
// failed.
func (s *Sim) finalUpdate(p *playback, ok bool) {
	last := p.index == len(p.media)-1
	switch {
	case ok && last:
		p.state = pbComplete
	case ok:
		p.state = pbContinuing
	case p.state == pbStopped:
	case last:
		p.state = pbFailed
	default:
		p.state = pbContinuing
	}
	typ := "PlaybackFinished"
	if p.state == pbContinuing {
		typ = "PlaybackContinuing"
	}
	s.emit(s.evPlayback(typ, p))
}

// endPlayback removes a playback that is over.
func (s *Sim) endPlayback(p *playback) {
	s.cancel(p.timer)
	p.timer = nil
	if s.state.playbacks[p.id] == p {
		delete(s.state.playbacks, p.id)
	}
	if p.ch != nil && p.ch.active == p {
		p.ch.active = nil
	}
}

// releasePlayback frees the control queue the playback occupied.
func (s *Sim) releasePlayback(p *playback) {
	if p.ch != nil {
		s.release(p.ch)
	}
}

// stopPlayback finishes a stopped playback (after the stop answer).
func (s *Sim) stopPlayback(p *playback) {
	if s.state.playbacks[p.id] != p || p.state != pbStopped {
		return
	}
	s.emit(s.evPlayback("PlaybackFinished", p))
	s.endPlayback(p)
	s.releasePlayback(p)
}

// mediaInfo classifies a media URI: its length, whether the scheme is
// supported, whether the media exists, whether it can be controlled.
func (s *Sim) mediaInfo(uri string) (length time.Duration, playable, exists, controllable bool) {
	scheme, rest, _ := strings.Cut(uri, ":")
	switch scheme {
	case "sound":
		d, ok := soundLength(rest)
		return d, true, ok, true
	case "recording":
		r := s.state.storedRecs[rest]
		if r == nil {
			return 0, false, false, false
		}
		return r.length, true, true, true
	case "number":
		if atoi(rest) == 0 && strings.Trim(rest, "0") != "" {
			return 0, false, false, false
		}
		return time.Duration(len(strings.TrimLeft(rest, "-"))) * 600 * time.Millisecond, true, true, false
	case "digits", "characters":
		return time.Duration(len(rest)) * 500 * time.Millisecond, true, true, false
	case "tone":
		return 0, true, true, true
	}
	return 0, false, false, false
}

// stopMediaOnHangup: a hangup interrupts what plays or records.
func (s *Sim) stopMediaOnHangup(c *channel) {
	if p := c.active; p != nil && s.state.playbacks[p.id] == p {
		// ast_control_streamfile returns -1 on hangup: the playback failed.
		if p.state == pbPlaying || p.state == pbPaused || p.state == pbContinuing {
			if p.state != pbStopped {
				p.state = pbFailed
			}
			s.emit(s.evPlayback("PlaybackFinished", p))
		}
		s.endPlayback(p)
	}
	if r := c.activeRec; r != nil {
		s.finishRecording(r, false)
	}
}

func (s *Sim) hPlaybackGet(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.state.playbacks[r.str("playbackId")]
	if p == nil {
		return fail(404, "Playback not found")
	}
	return okJSON(playbackBody(p))
}

func (s *Sim) hPlaybackStop(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.state.playbacks[r.str("playbackId")]
	if p == nil {
		return fail(404, "Playback not found")
	}
	switch p.state {
	case pbQueued:
		p.state = pbCanceled
		return noContent()
	case pbPlaying, pbPaused, pbContinuing:
		if !p.controllable {
			return fail(500, "Could not stop playback")
		}
		p.pos = s.position(p)
		s.cancel(p.timer)
		p.timer = nil
		p.state = pbStopped
		res := noContent()
		res.after = func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.stopPlayback(p)
		}
		return res
	}
	return noContent()
}

func (s *Sim) hPlaybackControl(r *req) resp {
	op, ok := r.vals["operation"]
	if !ok {
		return fail(400, "Missing operation")
	}
	switch op {
	case "unpause", "pause", "restart", "reverse", "forward":
	default:
		return fail(400, "Invalid operation %s", op)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.state.playbacks[r.str("playbackId")]
	if p == nil {
		return fail(404, "Playback not found")
	}
	notPlaying := fail(409, "Can only %s while media is playing", op)
	cantDo := fail(500, "Could not %s playback", op)
	playing := p.state == pbPlaying || p.state == pbContinuing
	switch {
	case p.state == pbQueued && op == "restart":
		return noContent()
	case p.state == pbPaused && op == "pause":
		return noContent()
	case playing && op == "unpause":
		return noContent()
	case p.state == pbPaused && op == "unpause":
		if !p.controllable {
			return cantDo
		}
		p.state = pbPlaying
		s.emit(s.evPlayback("PlaybackStarted", p))
		s.armPlayback(p)
		return noContent()
	case !playing:
		if p.state == pbPlaying {
			return cantDo
		}
		return notPlaying
	case !p.controllable:
		return cantDo
	}
	switch op {
	case "pause":
		p.pos = s.position(p)
		s.cancel(p.timer)
		p.timer = nil
		p.state = pbPaused
	case "restart":
		p.pos = 0
		s.armPlayback(p)
	case "reverse":
		p.pos = max(s.position(p)-p.skip, 0)
		s.armPlayback(p)
	case "forward":
		p.pos = s.position(p) + p.skip
		if p.length > 0 && p.pos > p.length {
			p.pos = p.length
		}
		s.armPlayback(p)
	}
	return noContent()
}

// --- sounds ---

// soundLength is the simulated length of a sound of the catalogue.
func soundLength(id string) (time.Duration, bool) {
	if !soundExists(id) {
		return 0, false
	}
	return soundDuration(id), true
}

// soundDuration gives sounds plausible lengths; demo-congrats lasts a few
// seconds, beep a quarter of one.
func soundDuration(id string) time.Duration {
	switch {
	case id == "beep":
		return 250 * time.Millisecond
	case id == "demo-congrats":
		return 5 * time.Second
	case strings.HasPrefix(id, "silence/"):
		return time.Duration(atoi(strings.TrimPrefix(id, "silence/"))) * time.Second
	case strings.HasPrefix(id, "digits/"), strings.HasPrefix(id, "letters/"), strings.HasPrefix(id, "phonetic/"):
		return 600 * time.Millisecond
	}
	return 2 * time.Second
}

// --- recordings (res_stasis_recording.c) ---

type liveRecording struct {
	name, format, target string
	state                string // queued, recording, paused, done, failed, canceled
	duration             int    // seconds, -1 until known
	cause                string
	started              bool             // record_file ran: RecordingStarted was published
	file                 *storedRecording // the file being written, from the start on

	ch       *channel
	chanID   string
	bridgeID string
	onDone   func() // the bridge's recorder leaves

	maxDuration, maxSilence int
	ifExists                string
	terminateOn             string
	beep                    bool
	muted                   bool

	elapsed time.Duration // simulated, recorded time before since
	since   time.Time
	timer   *time.Timer
}

func (r *liveRecording) route(e *event) {
	if r.bridgeID != "" {
		e.bridges = []string{r.bridgeID}
		return
	}
	e.chans = []string{r.chanID}
}

// storedRecording is a file in the recording directory. A live
// recording writes its file from the moment it starts (ast_writefile in
// __ast_play_and_record), so the file is listed, read, copied and
// deleted while the recording still runs; live is that recording and
// base what the file held before it (ifExists=append).
type storedRecording struct {
	name, format string
	length       time.Duration
	seq          uint64

	live *liveRecording
	base time.Duration
}

// size is the recorded time the file holds now.
func (s *Sim) size(st *storedRecording) time.Duration {
	if st.live != nil {
		return st.base + s.recorded(st.live)
	}
	return st.length
}

// recordingFormats are the file formats ast_get_format_for_file_ext
// knows on the simulated Asterisk.
var recordingFormats = map[string]bool{
	"wav": true, "WAV": true, "wav49": true, "wav16": true, "gsm": true, "ulaw": true, "ul": true,
	"mu": true, "pcm": true, "alaw": true, "al": true, "sln": true, "raw": true, "sln12": true,
	"sln16": true, "sln24": true, "sln32": true, "sln44": true, "sln48": true, "sln96": true,
	"sln192": true, "g722": true, "g723": true, "g723sf": true, "g726-40": true, "g726-32": true,
	"g726-24": true, "g726-16": true, "g729": true, "ilbc": true, "h263": true, "h264": true,
	"ogg": true, "vox": true, "siren7": true, "siren14": true,
}

// newRecording validates a record request and creates a queued live
// recording.
func (s *Sim) newRecording(r *req, target string) (*liveRecording, *resp) {
	term := r.str("terminateOn")
	switch strings.ToLower(term) {
	case "", "none", "any", "#", "*":
	default:
		e := fail(400, "terminateOn invalid")
		return nil, &e
	}
	ifExists := strings.ToLower(r.str("ifExists"))
	switch ifExists {
	case "":
		ifExists = "fail"
	case "fail", "overwrite", "append":
	default:
		e := fail(400, "ifExists invalid")
		return nil, &e
	}
	format := r.str("format")
	if !recordingFormats[format] {
		e := fail(422, "specified format is unknown on this system")
		return nil, &e
	}
	name := r.str("name")
	if name == "" {
		e := fail(500, "Error parsing request")
		return nil, &e
	}
	if strings.Contains(name, "..") {
		e := fail(400, "Recording name invalid")
		return nil, &e
	}
	exists := fail(409, "Recording '%s' already exists and can not be overwritten", name)
	if _, ok := s.state.storedRecs[name]; ok && ifExists == "fail" {
		return nil, &exists
	}
	if _, ok := s.state.liveRecs[name]; ok {
		return nil, &exists
	}
	rec := &liveRecording{name: name, format: format, target: target, state: "queued", duration: -1,
		maxDuration: r.int("maxDurationSeconds", 0), maxSilence: r.int("maxSilenceSeconds", 0),
		ifExists: ifExists, terminateOn: term, beep: r.boolean("beep")}
	s.state.liveRecs[name] = rec
	return rec, nil
}

// startChannelRecording is record_file on a channel's control. It does
// not look at the recording's state: a recording stopped or canceled
// while queued (recording_disregard only marks it canceled) still starts
// when the control reaches it and then runs like any other, as the
// recorded Asterisk did.
func (s *Sim) startChannelRecording(rec *liveRecording) bool {
	if s.state.liveRecs[rec.name] != rec {
		return false
	}
	if rec.ch.bridge != nil {
		rec.state = "failed"
		rec.cause = "Cannot record channel while in bridge"
		s.emit(s.evRecording("RecordingFailed", rec))
		delete(s.state.liveRecs, rec.name)
		return false
	}
	s.answer(rec.ch)
	s.beginRecording(rec)
	return true
}

func (s *Sim) beginRecording(rec *liveRecording) {
	rec.state = "recording"
	rec.started = true
	rec.since = time.Now()
	if rec.ch != nil {
		rec.ch.activeRec = rec
	}
	// The file exists from now on: appended to, or created anew.
	if st := s.state.storedRecs[rec.name]; st != nil && rec.ifExists == "append" {
		st.live, st.base = rec, s.size(st)
		rec.file = st
	} else {
		s.state.storedSeq++
		rec.file = &storedRecording{name: rec.name, format: rec.format, live: rec, seq: s.state.storedSeq}
		s.state.storedRecs[rec.name] = rec.file
	}
	s.emit(s.evRecording("RecordingStarted", rec))
	limit := rec.maxDuration
	if rec.maxSilence > 0 && (limit == 0 || rec.maxSilence < limit) {
		// The far end is silent: silence detection ends the recording.
		limit = rec.maxSilence
	}
	if limit > 0 {
		rec.timer = s.after(s.scaled(time.Duration(limit)*time.Second), func() {
			rec.timer = nil
			s.finishRecording(rec, true)
		})
	}
}

// recorded returns the simulated recorded time so far.
func (s *Sim) recorded(rec *liveRecording) time.Duration {
	d := rec.elapsed
	if rec.state == "recording" {
		d += time.Duration(float64(time.Since(rec.since)) / s.scale)
	}
	return d
}

// finishRecording ends a live recording: RecordingFinished (state done,
// even when canceled, as Asterisk publishes) and its file closed. A file
// deleted meanwhile (a stored recording delete, or cancel) stays deleted.
// release frees the control queue.
func (s *Sim) finishRecording(rec *liveRecording, release bool) {
	if s.state.liveRecs[rec.name] != rec {
		return
	}
	s.cancel(rec.timer)
	rec.timer = nil
	length := s.recorded(rec)
	rec.state = "done"
	rec.duration = int(length / time.Second)
	s.emit(s.evRecording("RecordingFinished", rec))
	delete(s.state.liveRecs, rec.name)
	s.closeFile(rec)
	if rec.ch != nil && rec.ch.activeRec == rec {
		rec.ch.activeRec = nil
		if release {
			s.release(rec.ch)
		}
	}
	if rec.onDone != nil {
		rec.onDone()
	}
}

// closeFile fixes the length of rec's file, if it still exists.
func (s *Sim) closeFile(rec *liveRecording) {
	if st := rec.file; st != nil && st.live == rec {
		st.length = s.size(st)
		st.live = nil
	}
}

// deleteFile removes rec's file (ast_filedelete by recording_cancel).
func (s *Sim) deleteFile(rec *liveRecording) {
	if st := rec.file; st != nil && s.state.storedRecs[st.name] == st {
		delete(s.state.storedRecs, st.name)
	}
	s.closeFile(rec)
}

// dtmfReceived ends a recording whose terminateOn matches the digit.
func (s *Sim) dtmfReceived(c *channel, digit string) {
	rec := c.activeRec
	if rec == nil || rec.state != "recording" {
		return
	}
	switch rec.terminateOn {
	case "any":
		s.finishRecording(rec, true)
	case "#", "*":
		if digit == rec.terminateOn {
			s.finishRecording(rec, true)
		}
	}
}

func (s *Sim) hGetLive(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.state.liveRecs[r.str("recordingName")]
	if rec == nil {
		return fail(404, "Recording not found")
	}
	return okRaw(liveRecordingBody(rec))
}

// hRecordingOp: cancel, stop, pause, unpause, mute, unmute.
func (s *Sim) hRecordingOp(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.state.liveRecs[r.str("recordingName")]
	if rec == nil {
		return fail(404, "Recording not found")
	}
	op := r.op.Nickname
	notRecording := fail(409, "Recording not in session")
	active := rec.state == "recording" || rec.state == "paused"
	switch {
	case rec.state == "queued" && (op == "cancel" || op == "stop"):
		// recording_disregard: only the state changes; nothing stops
		// record_file from starting later (startChannelRecording).
		rec.state = "canceled"
		return noContent()
	case !active:
		return notRecording
	}
	finish := func() resp {
		res := noContent()
		res.after = func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.finishRecording(rec, true)
		}
		return res
	}
	switch op {
	case "cancel":
		rec.elapsed = s.recorded(rec)
		rec.state = "canceled"
		s.deleteFile(rec)
		return finish()
	case "stop":
		rec.elapsed = s.recorded(rec)
		rec.state = "stopping"
		return finish()
	case "pause":
		if rec.state == "recording" {
			rec.elapsed = s.recorded(rec)
			rec.state = "paused"
		}
	case "unpause":
		if rec.state == "paused" {
			rec.state = "recording"
			rec.since = time.Now()
		}
	case "mute":
		rec.muted = true
	case "unmute":
	}
	return noContent()
}

func (s *Sim) hListStored(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*storedRecording, 0, len(s.state.storedRecs))
	for _, st := range s.state.storedRecs {
		list = append(list, st)
	}
	sortBy(list, func(a *storedRecording) uint64 { return a.seq })
	out := make([]storedRecordingJSON, 0, len(list))
	for _, st := range list {
		out = append(out, storedRecordingJSON{st.name, st.format})
	}
	return okJSON(out)
}

func (s *Sim) hGetStored(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state.storedRecs[r.str("recordingName")]
	if st == nil {
		return fail(404, "Recording not found")
	}
	return okJSON(storedRecordingJSON{st.name, st.format})
}

func (s *Sim) hDeleteStored(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.str("recordingName")
	if s.state.storedRecs[name] == nil {
		return fail(404, "Recording not found")
	}
	delete(s.state.storedRecs, name)
	return noContent()
}

func (s *Sim) hCopyStored(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	src := s.state.storedRecs[r.str("recordingName")]
	if src == nil {
		return fail(404, "Recording not found")
	}
	dst := r.str("destinationRecordingName")
	if s.state.storedRecs[dst] != nil {
		return fail(409, "A recording with the same name already exists on the system")
	}
	if dst == "" || strings.Contains(dst, "..") {
		return fail(400, "Invalid destination recording name")
	}
	s.state.storedSeq++
	cp := &storedRecording{name: dst, format: src.format, length: s.size(src), seq: s.state.storedSeq}
	s.state.storedRecs[dst] = cp
	return okJSON(storedRecordingJSON{cp.name, cp.format})
}

// hGetStoredFile answers the recording's audio: silence of its length, as
// a WAV file for wav recordings.
func (s *Sim) hGetStoredFile(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state.storedRecs[r.str("recordingName")]
	if st == nil {
		return fail(404, "Recording not found")
	}
	samples := int(s.size(st) / (time.Second / 8000))
	if st.format != "wav" && st.format != "WAV" && st.format != "wav16" {
		return resp{status: 200, body: make([]byte, samples), ctype: "application/octet-stream"}
	}
	data := make([]byte, 44+samples*2)
	copy(data[0:], "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+samples*2))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1)
	binary.LittleEndian.PutUint16(data[22:], 1)
	binary.LittleEndian.PutUint32(data[24:], 8000)
	binary.LittleEndian.PutUint32(data[28:], 16000)
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(samples*2))
	return resp{status: 200, body: data, ctype: "audio/wav"}
}
