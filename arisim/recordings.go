package arisim

import (
	"encoding/binary"
	"strings"
	"time"
)

// Live and stored recordings and the /recordings resource
// (res/res_stasis_recording.c, res/ari/resource_recordings.c).

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
	timer   Timer
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
	rec.since = s.clock.Now()
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
		d += time.Duration(float64(s.clock.Now().Sub(rec.since)) / s.scale)
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
	if limit := time.Duration(rec.maxDuration) * time.Second; limit > 0 && length > limit {
		// Asterisk stops writing at maxDurationSeconds of audio: a timer
		// that fired late (a busy machine) must not make it longer.
		length = limit
	}
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

func (s api) RecordingsGetLive(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.state.liveRecs[r.str("recordingName")]
	if rec == nil {
		return fail(404, "Recording not found")
	}
	return okRaw(liveRecordingBody(rec))
}

func (s api) RecordingsCancel(r *req) resp { return s.hRecordingOp(r) }

func (s api) RecordingsMute(r *req) resp { return s.hRecordingOp(r) }

func (s api) RecordingsPause(r *req) resp { return s.hRecordingOp(r) }

func (s api) RecordingsStop(r *req) resp { return s.hRecordingOp(r) }

func (s api) RecordingsUnmute(r *req) resp { return s.hRecordingOp(r) }

func (s api) RecordingsUnpause(r *req) resp { return s.hRecordingOp(r) }

// hRecordingOp: cancel, stop, pause, unpause, mute, unmute.
func (s api) hRecordingOp(r *req) resp {
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
			rec.since = s.clock.Now()
		}
	case "mute":
		rec.muted = true
	case "unmute":
		rec.muted = false
	}
	return noContent()
}

func (s api) RecordingsListStored(r *req) resp {
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

func (s api) RecordingsGetStored(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state.storedRecs[r.str("recordingName")]
	if st == nil {
		return fail(404, "Recording not found")
	}
	return okJSON(storedRecordingJSON{st.name, st.format})
}

func (s api) RecordingsDeleteStored(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := r.str("recordingName")
	if s.state.storedRecs[name] == nil {
		return fail(404, "Recording not found")
	}
	delete(s.state.storedRecs, name)
	return noContent()
}

func (s api) RecordingsCopyStored(r *req) resp {
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
func (s api) RecordingsGetStoredFile(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state.storedRecs[r.str("recordingName")]
	if st == nil {
		return fail(404, "Recording not found")
	}
	samples := int(s.size(st) / (time.Second / 8000))
	// ast_ari_recordings_get_stored_file: Content-Type is the format's
	// media type and the file extension ("audio/gsm").
	if st.format != "wav" && st.format != "WAV" && st.format != "wav16" {
		return resp{status: 200, body: make([]byte, samples), ctype: "audio/" + st.format}
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

func liveRecordingBody(r *liveRecording) []byte {
	o := newObj().str("name", r.name).str("format", r.format).str("state", r.state).
		str("target_uri", r.target)
	if r.duration >= 0 {
		o.num("duration", r.duration)
	}
	if r.cause != "" {
		o.str("cause", r.cause)
	}
	return o.done()
}

type storedRecordingJSON struct {
	Name   string `json:"name"`
	Format string `json:"format"`
}
