// Package arisim simulates the Asterisk REST Interface (ARI) of Asterisk 22:
// the REST resources under /ari and the events WebSocket at /ari/events.
//
// The simulator reproduces what a real Asterisk 22 answers and emits, as
// recorded in the project's transcripts (shared/ari/transcripts): status
// codes, error messages, body field order, event types, event field order
// and event sequences. Behaviour not covered by the transcripts follows the
// Asterisk 22 sources (res/ari/resource_*.c, res/stasis*). It is the ground
// every test of the project stands on, so it is never lenient.
//
// The simulated Asterisk has no SIP stack: calls are Local channel pairs and
// the dialplan is context "default" with the extensions echo (Answer,
// Wait(300)), stasis (Stasis(demo,inbound) at priority 2), stasis2
// (Stasis(other)) and talk (Answer, Playback(demo-congrats), Wait(300)).
package arisim

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ariproxy/ari-proxy/ari"
)

// Config configures a Sim. The zero value is usable.
type Config struct {
	User, Password string // ARI credentials (defaults "asterisk"/"asterisk")
	EntityID       string // asterisk_id / system.entity_id (default "02:fc:00:00:00:01")
	Logger         *slog.Logger

	// TimeScale multiplies every simulated media and signalling duration
	// (sound lengths, DTMF timing, the far end's answer delay) so tests run
	// fast: 0.01 plays the 5 s demo-congrats in 50 ms. 0 means 1. Dialplan
	// Wait() and InboundScript durations are not scaled.
	TimeScale float64

	// Mailboxes loads res_ari_mailboxes.so at start. The recorded Asterisk
	// does not have it, so /mailboxes answers 404 "Resource not found"
	// unless this is set or the module is loaded through the API.
	Mailboxes bool

	// QueueLimit is how many events may wait for one WebSocket before the
	// simulator gives up on that client and closes it, as Asterisk does with
	// a client that stops reading. 0 means 100000.
	QueueLimit int

	// Clock times what the simulator does by itself: media and recording
	// lengths, DTMF pacing, dialplan steps, answer delays and dial
	// timeouts. nil means the wall clock. A test replaying recorded traffic
	// can pass a ManualClock it advances in step with the recording, so
	// timed events fall between the same requests however slowly the
	// machine runs. Event timestamps stay on the wall clock.
	Clock Clock
}

// Sim is a simulated Asterisk 22 ARI. It is safe for concurrent use.
type Sim struct {
	cfg      Config
	log      *slog.Logger
	clock    Clock
	scale    float64
	qlimit   int
	user     string
	password string

	mu    sync.Mutex // guards every field below that is not atomic
	gen   uint64     // bumped by Restart: work scheduled before is void
	eid   string
	state *state

	startTime, reloadTime time.Time

	timers   map[Timer]struct{}
	conns    map[*wsConn]struct{}
	wg       sync.WaitGroup // connection writers and background jobs
	closed   bool
	closedCh chan struct{}

	latency     atomic.Int64 // nanoseconds added before every REST answer
	refuseUntil atomic.Int64 // unix nanoseconds until which connections are refused

	srvMu    sync.Mutex
	srv      *http.Server
	ln       net.Listener
	addr     string
	netConns map[net.Conn]struct{}
}

// state is everything Restart forgets.
type state struct {
	channels   map[string]*channel
	chanSeq    uint64 // creation order, for listings
	bridges    map[string]*bridge
	bridgeSeq  uint64
	playbacks  map[string]*playback
	liveRecs   map[string]*liveRecording
	storedRecs map[string]*storedRecording
	storedSeq  uint64
	devStates  map[string]string // "Stasis:x" -> state name
	devOrder   []string
	globals    map[string]string
	logChans   []*logChannel
	modules    []*module
	mailboxes  map[string]*mailbox
	apps       map[string]*app
	appSeq     uint64
	joinSeq    uint64

	unrealSeq uint32 // Local/Announcer/Recorder name counter (hex)
	snoopSeq  uint32
	rtpSeq    uint64
}

// New returns a simulator. Serve it with Listen, or mount it with
// ServeHTTP under /ari.
func New(cfg Config) *Sim {
	s := &Sim{
		cfg:      cfg,
		log:      cfg.Logger,
		scale:    cfg.TimeScale,
		qlimit:   cfg.QueueLimit,
		user:     cfg.User,
		password: cfg.Password,
		eid:      cfg.EntityID,
		clock:    cfg.Clock,
		timers:   map[Timer]struct{}{},
		conns:    map[*wsConn]struct{}{},
		closedCh: make(chan struct{}),
		netConns: map[net.Conn]struct{}{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.clock == nil {
		s.clock = wallClock{}
	}
	if s.scale <= 0 {
		s.scale = 1
	}
	if s.qlimit <= 0 {
		s.qlimit = 100000
	}
	if s.user == "" && s.password == "" {
		s.user, s.password = "asterisk", "asterisk"
	}
	if s.eid == "" {
		s.eid = "02:fc:00:00:00:01"
	}
	now := time.Now()
	s.startTime = now.Add(-150 * time.Second)
	s.reloadTime = now.Add(-5 * time.Second)
	s.state = s.newState()
	return s
}

func (s *Sim) newState() *state {
	st := &state{
		channels:   map[string]*channel{},
		bridges:    map[string]*bridge{},
		playbacks:  map[string]*playback{},
		liveRecs:   map[string]*liveRecording{},
		storedRecs: map[string]*storedRecording{},
		devStates:  map[string]string{},
		globals:    map[string]string{},
		mailboxes:  map[string]*mailbox{},
		apps:       map[string]*app{},
		unrealSeq:  0,
	}
	st.logChans = defaultLogChannels()
	st.modules = defaultModules(s.cfg.Mailboxes)
	return st
}

// Listen starts serving the simulator on addr ("127.0.0.1:0" picks a free
// port) in the background. URL and WebSocketURL then give its addresses.
func (s *Sim) Listen(addr string) (net.Listener, error) {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.srv != nil {
		return nil, fmt.Errorf("arisim: already listening on %s", s.addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("arisim: listen: %w", err)
	}
	rl := &refusingListener{Listener: ln, s: s}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState:         s.trackConn,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.srv, s.ln = srv, rl
	s.addr = ln.Addr().String()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = srv.Serve(rl)
	}()
	return rl, nil
}

// URL is the base URL of the REST interface, "http://127.0.0.1:PORT/ari",
// once Listen succeeded; "" before.
func (s *Sim) URL() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.addr == "" {
		return ""
	}
	return "http://" + s.addr + "/ari"
}

// WebSocketURL is the events WebSocket URL, "ws://127.0.0.1:PORT/ari/events",
// once Listen succeeded; "" before.
func (s *Sim) WebSocketURL() string {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	if s.addr == "" {
		return ""
	}
	return "ws://" + s.addr + "/ari/events"
}

// EntityID returns the current entity id (asterisk_id).
func (s *Sim) EntityID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eid
}

// Close stops the server, closes every WebSocket, cancels every timer and
// waits for the simulator's goroutines to end.
func (s *Sim) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closedCh)
	s.stopTimersLocked()
	conns := s.takeConnsLocked()
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
	s.srvMu.Lock()
	srv := s.srv
	s.srvMu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	s.wg.Wait()
	return err
}

// after runs fn with s.mu held once d has passed, unless the simulator was
// restarted or closed meanwhile. The caller holds s.mu.
func (s *Sim) after(d time.Duration, fn func()) Timer {
	if s.closed {
		return nil
	}
	gen := s.gen
	var t Timer
	t = s.clock.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if _, ok := s.timers[t]; !ok {
			return
		}
		delete(s.timers, t)
		if s.closed || s.gen != gen {
			return
		}
		fn()
	})
	s.timers[t] = struct{}{}
	return t
}

// cancel stops a timer made by after. The caller holds s.mu.
func (s *Sim) cancel(t Timer) {
	if t == nil {
		return
	}
	t.Stop()
	delete(s.timers, t)
}

func (s *Sim) stopTimersLocked() {
	for t := range s.timers {
		t.Stop()
	}
	clear(s.timers)
}

// scaled converts a simulated duration into wall time.
func (s *Sim) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.scale)
}

// now is the simulator's clock, in UTC like the recorded Asterisk.
func now() time.Time { return time.Now().UTC() }

// stamp formats t as Asterisk does ("2026-11-22T02:39:35.084+0000").
func stamp(t time.Time) string { return ari.FormatTime(t.UTC()) }

// uuid returns a random version 4 UUID, as Asterisk generates ids.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
