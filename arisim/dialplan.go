package arisim

import (
	"strconv"
	"strings"
	"time"
)

// dpStep is one priority of an extension.
type dpStep struct{ app, data string }

// dialplan is the recorded Asterisk's context "default". The stasis
// extension reaches Stasis at priority 2, as the transcripts show.
var dialplan = map[string]map[string][]dpStep{
	"default": {
		"echo":    {{"Answer", ""}, {"Wait", "300"}},
		"stasis":  {{"NoOp", ""}, {"Stasis", "demo,inbound"}},
		"stasis2": {{"Stasis", "other"}},
		"talk":    {{"Answer", ""}, {"Playback", "demo-congrats"}, {"Wait", "300"}},
	},
}

func dpLookup(context, exten string, prio int) (dpStep, bool) {
	steps := dialplan[context][exten]
	if prio < 1 || prio > len(steps) {
		return dpStep{}, false
	}
	return steps[prio-1], true
}

func extensionExists(context, exten string) bool {
	_, ok := dialplan[context][exten]
	return ok
}

// answerMediaWait is how long Answer waits for the first media frame on a
// channel it answered from Ring or Ringing before the dialplan moves on
// (__ast_answer: MAX(delay, 500) ms, delay 0 for Answer without
// arguments). A media frame (voice, DTMF begin or end, ...) ends the wait
// at once: see mediaTo.
const answerMediaWait = 500 * time.Millisecond

// pbxStart runs c's dialplan from its current priority. The caller holds
// s.mu.
func (s *Sim) pbxStart(c *channel) {
	s.pbxGoto(c, c.context, c.exten, c.priority)
}

// pbxGoto runs c's dialplan from context/exten/priority.
func (s *Sim) pbxGoto(c *channel, context, exten string, prio int) {
	old := c.snapshot()
	c.inPBX = true
	c.pbxGen++
	c.context, c.exten, c.priority = context, exten, prio
	s.pbxStep(c, old)
}

// pbxStep executes the priority c is at; old is the snapshot before c
// moved there.
func (s *Sim) pbxStep(c *channel, old snap) {
	c.awaitingMedia = false
	if c.gone || c.hangingUp {
		return
	}
	step, ok := dpLookup(c.context, c.exten, c.priority)
	if !ok {
		s.pbxEnd(c)
		return
	}
	c.appName, c.appData = step.app, step.data
	s.publish(c, old)
	switch step.app {
	case "Answer":
		ringing := c.state == "Ring" || c.state == "Ringing"
		s.answer(c)
		if !ringing {
			s.pbxNext(c, 0) // already up: __ast_answer does not wait
			return
		}
		if p := c.peer; p != nil && p.bridge != nil && s.bridgePlaying(p.bridge) {
			s.pbxNext(c, 0) // media already flows from the other half
			return
		}
		c.awaitingMedia = true
		s.pbxNext(c, s.scaled(answerMediaWait))
	case "Wait":
		secs, _ := strconv.ParseFloat(step.data, 64)
		s.pbxNext(c, time.Duration(secs*float64(time.Second)))
	case "Playback":
		s.pbxNext(c, s.scaled(soundDuration(step.data)))
	case "Stasis":
		name, rest, _ := strings.Cut(step.data, ",")
		var args []string
		if rest != "" {
			args = strings.Split(rest, ",")
		}
		s.runStasis(c, name, args, true)
	default: // NoOp and friends
		s.pbxNext(c, 0)
	}
}

// pbxNext moves to the next priority after d.
func (s *Sim) pbxNext(c *channel, d time.Duration) {
	gen := c.pbxGen
	next := func() {
		if c.gone || c.hangingUp || c.pbxGen != gen {
			return
		}
		old := c.snapshot()
		c.priority++
		s.pbxStep(c, old)
	}
	if d <= 0 {
		next()
		return
	}
	c.pbxTimer = s.after(d, next)
}

// pbxStop abandons whatever dialplan step c was waiting in.
func (s *Sim) pbxStop(c *channel) {
	c.awaitingMedia = false
	c.pbxGen++
	s.cancel(c.pbxTimer)
	c.pbxTimer = nil
}

// pbxEnd: the dialplan ran out of priorities. A channel that ran
// Stasis() without a PBX of its own (originate, create) finishes its
// Stasis application now; then the channel hangs up.
func (s *Sim) pbxEnd(c *channel) {
	c.inPBX = false
	if c.stasisPending {
		c.stasisPending = false
		s.setVar(c, "STASISSTATUS", "SUCCESS")
		s.popApp(c)
	}
	if c.hangupCause == 0 {
		c.hangupCause = causeNormal
	}
	s.terminate(c)
}

// mediaTo: media frames are written to c from now on (a playback, music
// on hold or the silence generator on c, a digit sent to c, a bridge
// playing into c). Frames written to one half of a Local pair are queued
// on the other (ast_unreal_write, ast_unreal_digit_begin), so an Answer
// waiting there for media (__ast_answer) returns and its dialplan moves
// on. Control frames (ringing, hold, answer) do not count, and nothing
// else here waits for media.
func (s *Sim) mediaTo(c *channel) {
	p := c.peer
	if p == nil || p.gone || !p.awaitingMedia {
		return
	}
	p.awaitingMedia = false
	s.cancel(p.pbxTimer)
	p.pbxTimer = nil
	s.pbxNext(p, 0)
}
