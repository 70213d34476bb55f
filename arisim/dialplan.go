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

// answerDelay is how long the Answer application waits for media before
// the dialplan moves on (Asterisk waits up to 500 ms for a voice frame;
// the recordings show 10 to 100 ms).
const answerDelay = 100 * time.Millisecond

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
		s.answer(c)
		s.pbxNext(c, s.scaled(answerDelay))
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
