package arisim

import "context"

// The Stasis control queue of a channel (res/stasis/control.c): commands
// run one at a time, in order, by the channel's own thread.

// command is work queued on a channel's Stasis control. run is called
// with s.mu held and reports whether it keeps the queue busy until
// s.release is called (playbacks, recordings, DTMF).
type command struct {
	run    func() bool
	done   chan struct{}
	failed bool
}

// send queues run on c's control asynchronously (stasis_app_send_command_async).
func (s *Sim) send(c *channel, run func() bool) {
	s.queueCommand(c, &command{run: run, done: make(chan struct{})})
}

// sendSync queues run and waits until it ran (stasis_app_send_command).
// The caller holds s.mu, which is released while waiting. It reports
// false when the command never ran (the channel left Stasis or hung up).
func (s *Sim) sendSync(ctx context.Context, c *channel, run func()) bool {
	cmd := &command{run: func() bool { run(); return false }, done: make(chan struct{})}
	s.queueCommand(c, cmd)
	select {
	case <-cmd.done:
		return !cmd.failed
	default:
	}
	s.mu.Unlock()
	select {
	case <-cmd.done:
	case <-ctx.Done():
	case <-s.closedCh:
	}
	s.mu.Lock()
	select {
	case <-cmd.done:
		return !cmd.failed
	default:
		cmd.failed = true // it will not run for us any more
		return false
	}
}

func (s *Sim) queueCommand(c *channel, cmd *command) {
	if c.gone || c.hangingUp {
		cmd.failed = true
		close(cmd.done)
		return
	}
	c.ctl = append(c.ctl, cmd)
	s.runQueue(c)
}

func (s *Sim) runQueue(c *channel) {
	for !c.ctlBusy && len(c.ctl) > 0 && !c.gone {
		cmd := c.ctl[0]
		c.ctl = c.ctl[1:]
		if cmd.failed { // its waiter gave up
			close(cmd.done)
			continue
		}
		busy := cmd.run()
		close(cmd.done)
		if busy {
			c.ctlBusy = true
		}
	}
}

// release ends the command occupying c's queue and runs the next ones.
func (s *Sim) release(c *channel) {
	c.ctlBusy = false
	if !c.gone && !c.hangingUp {
		s.runQueue(c)
	}
}

// flushControl drops what is queued on c's control; waiters see failure.
func (s *Sim) flushControl(c *channel) {
	q := c.ctl
	c.ctl = nil
	for _, cmd := range q {
		cmd.failed = true
		close(cmd.done)
	}
	for id, p := range s.state.playbacks {
		if p.ch == c && p.state == pbQueued {
			delete(s.state.playbacks, id)
		}
	}
	for name, r := range s.state.liveRecs {
		if r.ch == c && !r.started { // record_file never ran: no events
			delete(s.state.liveRecs, name)
		}
	}
}
