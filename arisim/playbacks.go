package arisim

import (
	"strings"
	"time"
)

// Playbacks and the /playbacks resource (res/res_stasis_playback.c,
// res/ari/resource_playbacks.c).

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
	timer        Timer
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
		if b := p.ch.bridge; p.bridgeID != "" && b != nil {
			s.bridgeMedia(b) // the announcer plays into the bridge
		} else {
			s.mediaTo(p.ch)
		}
		return true
	}
}

// armPlayback schedules the end of the current media.
func (s *Sim) armPlayback(p *playback) {
	s.cancel(p.timer)
	p.timer = nil
	p.since = s.clock.Now()
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
	return p.pos + time.Duration(float64(s.clock.Now().Sub(p.since))/s.scale)
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

func (s api) PlaybacksGet(r *req) resp {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.state.playbacks[r.str("playbackId")]
	if p == nil {
		return fail(404, "Playback not found")
	}
	return okJSON(playbackBody(p))
}

func (s api) PlaybacksStop(r *req) resp {
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

func (s api) PlaybacksControl(r *req) resp {
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

type playbackJSON struct {
	ID           string `json:"id"`
	MediaURI     string `json:"media_uri"`
	NextMediaURI string `json:"next_media_uri,omitempty"`
	TargetURI    string `json:"target_uri"`
	Language     string `json:"language"`
	State        string `json:"state"`
}

func playbackBody(p *playback) playbackJSON {
	j := playbackJSON{ID: p.id, MediaURI: p.media[p.index], TargetURI: p.target,
		Language: p.language, State: p.stateString()}
	if p.index < len(p.media)-1 {
		j.NextMediaURI = p.media[p.index+1]
	}
	return j
}
