package arisim

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The channel model behind /channels: state, variables, Local pairs,
// Stasis entry and exit, and hangup (main/channel.c, main/core_local.c,
// res/stasis/control.c, res/res_stasis.c).

// Hangup causes (Q.931) the simulator uses.
const (
	causeNormal   = 16
	causeBusy     = 17
	causeNoAnswer = 19
)

// channel is one Asterisk channel.
type channel struct {
	id, name    string
	tech        string // Local, Snoop, UnicastRTP, AudioSocket, Announcer, Recorder
	state       string // Down, Ring, Ringing, Up
	protocolID  string
	callerName  string
	callerNum   string
	connName    string
	connNum     string
	accountcode string
	context     string
	exten       string
	priority    int
	appName     string
	appData     string
	created     time.Time
	language    string
	seq         uint64
	vars        map[string]string
	varOrder    []string
	chanvars    orderedVars // channelvars in an externalMedia answer

	peer *channel // the other half of a Local pair
	half int      // 1 or 2 for Local channels
	// caretaker: this ;2 half was called and runs on its own thread
	// (local_call set AST_UNREAL_CARETAKER_THREAD), so the ;1 half
	// hanging up queues a hangup on it instead of destroying it at once.
	caretaker  bool
	dialstring string   // what POST /channels/{id}/dial calls (created channels)
	dial       *dialCtx // an outgoing call not yet answered

	stasis        *stasisCtl // non-nil while in a Stasis application
	stasisPending bool       // Stasis() still on the stack after continue (no own PBX)
	nested        bool       // runs applications without a PBX of its own
	inPBX         bool
	pbxGen        int
	pbxTimer      Timer
	awaitingMedia bool       // Answer waits for the first media frame (pbxTimer ends the wait)
	frames        []appFrame // applications pbx_exec interrupted

	bridge  *bridge
	role    string
	joinSeq uint64

	ctl       []*command // the Stasis control queue
	ctlBusy   bool
	active    *playback      // playback occupying the queue
	activeRec *liveRecording // recording occupying the queue
	dtmfTimer Timer

	snoopOf   string
	onGone    []func() // run once the channel is destroyed
	hangingUp bool
	gone      bool
	// hangupCause is the channel's hangup cause (ChannelDestroyed).
	hangupCause int
}

type stasisCtl struct {
	app    string
	args   []string
	viaApp bool // entered through the Stasis() application (STASISSTATUS)
}

type appFrame struct{ name, data string }

// dialCtx is an outgoing call waiting for its answer.
type dialCtx struct {
	caller        *channel
	dialstring    string
	ansDialstring string
	timer         Timer
	onAnswer      func()
}

// snap is what Asterisk compares between channel snapshots to derive
// ChannelStateChange, ChannelDialplan, ChannelCallerId and
// ChannelConnectedLine.
type snap struct {
	state, context, exten, app, data, cn, cnum, kn, knum string
	prio                                                 int
}

func (c *channel) snapshot() snap {
	return snap{c.state, c.context, c.exten, c.appName, c.appData, c.callerName, c.callerNum,
		c.connName, c.connNum, c.priority}
}

// publish emits the events a snapshot change causes, in Asterisk's
// channel monitor order.
func (s *Sim) publish(c *channel, old snap) {
	n := c.snapshot()
	if old.state != n.state {
		s.emit(s.evChannelStateChange(c))
	}
	// ast_channel_snapshot_cep_equal treats setting an application where
	// there was none as a change.
	if n.app != "" && (old.app == "" || old.context != n.context || old.exten != n.exten || old.prio != n.prio) {
		s.emit(s.evChannelDialplan(c))
	}
	if old.cn != n.cn || old.cnum != n.cnum {
		s.emit(s.evChannelCallerID(c))
	}
	if old.kn != n.kn || old.knum != n.knum {
		s.emit(s.evChannelConnectedLine(c))
	}
}

var uniqueSeq atomic.Uint64

// newUniqueID is Asterisk's default unique id: "<epoch>.<counter>".
func newUniqueID() string {
	return fmt.Sprintf("%d.%d", time.Now().Unix(), uniqueSeq.Add(1))
}

// maxUniqueID is AST_MAX_PUBLIC_UNIQUEID.
const maxUniqueID = 149

// addChannel registers a new channel and announces it to subscribeAll
// applications.
func (s *Sim) addChannel(c *channel) {
	st := s.state
	st.chanSeq++
	c.seq = st.chanSeq
	if c.created.IsZero() {
		c.created = now()
	}
	if c.language == "" {
		c.language = "en"
	}
	if c.vars == nil {
		c.vars = map[string]string{}
	}
	st.channels[c.id] = c
	s.emit(s.evChannelCreated(c))
}

// idTaken reports whether a channel id is in use.
func (s *Sim) idTaken(id string) bool {
	_, ok := s.state.channels[id]
	return ok
}

// newLocalPair creates Local/exten@context-XXXXXXXX;1 and ;2, as
// ast_request does for a Local endpoint.
func (s *Sim) newLocalPair(resource, id, otherID string) (one, two *channel) {
	dest, _, _ := strings.Cut(resource, "/") // options after "/" are ignored
	exten, context, ok := strings.Cut(dest, "@")
	if !ok || context == "" {
		context = "default"
	}
	seq := s.state.unrealSeq
	s.state.unrealSeq++
	base := fmt.Sprintf("Local/%s@%s-%08x", exten, context, seq)
	if id == "" {
		id = newUniqueID()
	}
	if otherID == "" {
		if s.explicitID(id) {
			otherID = id + ";2"
		} else {
			otherID = newUniqueID()
		}
	}
	t := now()
	one = &channel{id: id, name: base + ";1", tech: "Local", state: "Down", half: 1,
		context: context, exten: exten, priority: 1, created: t}
	two = &channel{id: otherID, name: base + ";2", tech: "Local", state: "Ring", half: 2,
		context: context, exten: exten, priority: 1, created: t}
	one.peer, two.peer = two, one
	s.addChannel(one)
	s.addChannel(two)
	return one, two
}

// explicitID: a generated id has the "<epoch>.<n>" form; a Local ;2 gets
// "<id>;2" only when the ;1 id was assigned by the client.
func (s *Sim) explicitID(id string) bool {
	a, b, ok := strings.Cut(id, ".")
	if !ok {
		return true
	}
	_, e1 := strconv.Atoi(a)
	_, e2 := strconv.Atoi(b)
	return e1 != nil || e2 != nil
}

// setVar is pbx_builtin_setvar_helper on a channel: it always publishes
// ChannelVarset.
func (s *Sim) setVar(c *channel, name, value string) {
	if _, ok := c.vars[name]; !ok {
		c.varOrder = append(c.varOrder, name)
	}
	c.vars[name] = value
	s.emit(s.evChannelVarset(c, name, value))
}

// setVarOrFunc sets a variable, or writes a dialplan function for names
// ending in ")". It reports false for a function Asterisk cannot write.
func (s *Sim) setVarOrFunc(c *channel, name, value string) bool {
	if !strings.HasSuffix(name, ")") {
		s.setVar(c, name, value)
		return true
	}
	fn, arg, ok := parseFunc(name)
	if !ok {
		return false
	}
	old := c.snapshot()
	switch fn {
	case "CALLERID":
		if !setParty(arg, value, &c.callerName, &c.callerNum) {
			return false
		}
	case "CONNECTEDLINE":
		if !setParty(arg, value, &c.connName, &c.connNum) {
			return false
		}
	case "CHANNEL":
		switch arg {
		case "language":
			c.language = value
		case "accountcode":
			c.accountcode = value
		default:
			return false
		}
	default:
		return false
	}
	s.publish(c, old)
	return true
}

// setParty sets the name, the number or both ("all": `"Name" <num>`) of
// a party, as CALLERID(arg) and CONNECTEDLINE(arg) do; false for an arg
// they do not know.
func setParty(arg, value string, name, num *string) bool {
	switch arg {
	case "name":
		*name = value
	case "num", "number":
		*num = value
	case "all":
		*name, *num = parseCallerID(value)
	default:
		return false
	}
	return true
}

// readVar is ast_str_retrieve_variable (and function reads): channel
// variables, builtins, then globals.
func (s *Sim) readVar(c *channel, name string) (string, bool, bool) {
	if strings.HasSuffix(name, ")") {
		fn, arg, ok := parseFunc(name)
		if !ok {
			return "", false, false
		}
		switch fn + "/" + arg {
		case "CALLERID/name":
			return c.callerName, true, true
		case "CALLERID/num", "CALLERID/number":
			return c.callerNum, true, true
		case "CALLERID/all":
			return formatCallerID(c.callerName, c.callerNum), true, true
		case "CONNECTEDLINE/name":
			return c.connName, true, true
		case "CONNECTEDLINE/num", "CONNECTEDLINE/number":
			return c.connNum, true, true
		case "CHANNEL/language":
			return c.language, true, true
		case "CHANNEL/name":
			return c.name, true, true
		case "CHANNEL/state":
			return c.state, true, true
		}
		return "", false, false
	}
	if v, ok := c.vars[name]; ok {
		return v, true, true
	}
	switch name {
	case "CHANNEL":
		return c.name, true, true
	case "UNIQUEID":
		return c.id, true, true
	case "CONTEXT":
		return c.context, true, true
	case "EXTEN":
		return c.exten, true, true
	case "PRIORITY":
		return strconv.Itoa(c.priority), true, true
	case "LANGUAGE":
		return c.language, true, true
	}
	if v, ok := s.state.globals[name]; ok {
		return v, true, true
	}
	return "", false, true
}

func parseFunc(name string) (fn, arg string, ok bool) {
	fn, rest, ok := strings.Cut(name, "(")
	if !ok || !strings.HasSuffix(rest, ")") || fn == "" {
		return "", "", false
	}
	return strings.ToUpper(fn), strings.ToLower(strings.TrimSuffix(rest, ")")), true
}

// parseCallerID is ast_callerid_parse: `"Name" <number>`, `Name <n>` or
// a bare number or name.
func parseCallerID(s string) (name, num string) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "<"); i >= 0 {
		if j := strings.Index(s[i:], ">"); j >= 0 {
			num = strings.TrimSpace(s[i+1 : i+j])
			name = strings.Trim(strings.TrimSpace(s[:i]), `"`)
			return name, num
		}
	}
	if s != "" && strings.Trim(s, "0123456789+*#-() ") == "" {
		return "", strings.NewReplacer("-", "", "(", "", ")", "", " ", "").Replace(s)
	}
	return strings.Trim(s, `"`), ""
}

func formatCallerID(name, num string) string {
	switch {
	case name != "" && num != "":
		return fmt.Sprintf("\"%s\" <%s>", name, num)
	case name != "":
		return name
	}
	return num
}

// pushApp is pbx_exec: the application replaces the channel's current
// one until it returns.
func (s *Sim) pushApp(c *channel, name, data string) {
	c.frames = append(c.frames, appFrame{c.appName, c.appData})
	old := c.snapshot()
	c.appName, c.appData = name, data
	s.publish(c, old)
}

func (s *Sim) popApp(c *channel) {
	if len(c.frames) == 0 {
		return
	}
	f := c.frames[len(c.frames)-1]
	c.frames = c.frames[:len(c.frames)-1]
	c.appName, c.appData = f.name, f.data
}

// answer answers c (Ring -> Up). Answering the ;2 half of a Local pair
// answers the call its ;1 half placed.
func (s *Sim) answer(c *channel) {
	if c.state == "Up" || c.gone {
		return
	}
	old := c.snapshot()
	c.state = "Up"
	s.publish(c, old)
	if p := c.peer; p != nil && c.half == 2 && !p.gone && !p.hangingUp && p.state != "Up" {
		old := p.snapshot()
		p.state = "Up"
		s.publish(p, old)
		if d := p.dial; d != nil {
			p.dial = nil
			s.cancel(d.timer)
			s.emit(s.evDial(d.caller, p, "ANSWER", d.ansDialstring))
			if d.onAnswer != nil {
				d.onAnswer()
			}
		}
	}
}

// startLocalDial places the call of a Local ;1 half: its ;2 half gets
// the ;1 variables and caller id, then runs its dialplan.
func (s *Sim) startLocalDial(one, caller *channel, dialstring, ansDialstring string, timeout time.Duration, onAnswer func()) {
	two := one.peer
	if two == nil || two.gone {
		return
	}
	for _, k := range one.varOrder {
		s.setVar(two, k, one.vars[k])
	}
	old := two.snapshot()
	// ast_unreal_call_setup crosses caller id and connected line over:
	// the ;2 half's caller is whom ;1 is connected to, and the other way.
	two.callerName, two.callerNum = one.connName, one.connNum
	two.connName, two.connNum = one.callerName, one.callerNum
	two.language = one.language
	s.publish(two, old)
	s.emit(s.evDial(caller, one, "", dialstring))
	d := &dialCtx{caller: caller, dialstring: dialstring, ansDialstring: ansDialstring, onAnswer: onAnswer}
	one.dial = d
	if timeout > 0 {
		d.timer = s.after(timeout, func() {
			if one.dial != d || one.gone {
				return
			}
			one.dial = nil
			s.emit(s.evDial(d.caller, one, "NOANSWER", d.dialstring))
			one.hangupCause = causeNoAnswer
			s.terminate(one)
		})
	}
	if !extensionExists(two.context, two.exten) {
		// local_call finds no such extension: the call fails.
		one.dial = nil
		s.cancel(d.timer)
		s.terminate(one)
		return
	}
	two.caretaker = true
	s.pbxStart(two)
}

// runStasis enters c into Stasis application name (stasis_app_exec).
// viaApp marks the Stasis() dialplan application, which keeps
// STASISSTATUS.
func (s *Sim) runStasis(c *channel, name string, args []string, viaApp bool) {
	a := s.state.apps[name]
	if name == "" || a == nil || a.conn == nil {
		// "Stasis app '%s' not registered": Stasis() fails.
		if viaApp {
			s.setVar(c, "STASISSTATUS", "FAILED")
		}
		s.stasisReturned(c, false)
		return
	}
	if viaApp {
		s.setVar(c, "STASISSTATUS", "")
	}
	s.subscribeChannel(name, c.id)
	c.stasis = &stasisCtl{app: name, args: args, viaApp: viaApp}
	s.emit(s.evStasisStart(c, name, args))
}

// stasisReturned: the Stasis() application returned (failure or after a
// continue) without the channel hanging up.
func (s *Sim) stasisReturned(c *channel, ok bool) {
	if c.inPBX {
		s.pbxNext(c, 0)
		return
	}
	if c.nested {
		s.popApp(c)
	}
	if c.hangupCause == 0 {
		c.hangupCause = causeNormal
	}
	s.terminate(c)
	_ = ok
}

// leaveStasis ends c's Stasis application (StasisEnd) and drops the
// application's interest. The caller decides what the channel does next.
func (s *Sim) leaveStasis(c *channel) {
	st := c.stasis
	if st == nil {
		return
	}
	s.flushControl(c)
	c.stasis = nil
	s.emit(s.evStasisEndBody(c, st.app))
	s.unsubscribeChannel(st.app, c.id)
}

// terminate hangs c up: media stops, it leaves its bridge and Stasis,
// ChannelDestroyed follows; a Local peer is hung up with the same cause.
func (s *Sim) terminate(c *channel) {
	if c.hangingUp || c.gone {
		return
	}
	c.hangingUp = true
	s.pbxStop(c)
	s.cancel(c.dtmfTimer)
	if d := c.dial; d != nil {
		c.dial = nil
		s.cancel(d.timer)
	}
	if c.hangupCause == 0 {
		c.hangupCause = causeNormal
	}
	s.stopMediaOnHangup(c)
	if c.bridge != nil {
		s.bridgeLeave(c.bridge, c, true)
	}
	if st := c.stasis; st != nil {
		s.leaveStasis(c)
		if st.viaApp {
			s.setVar(c, "STASISSTATUS", "SUCCESS")
		}
		if c.nested {
			s.popApp(c)
		}
	} else if c.stasisPending {
		c.stasisPending = false
		s.setVar(c, "STASISSTATUS", "SUCCESS")
	}
	if c.inPBX {
		c.inPBX = false
		c.appName, c.appData = "", ""
		if c.nested {
			s.popApp(c)
		}
	}
	p := c.peer
	peerUp := p != nil && !p.gone && !p.hangingUp
	// ast_unreal_hangup: the ;2 half hanging up queues a hangup on the
	// ;1 half; the ;1 half does so on a ;2 half that was called (the
	// caretaker thread), and hangs an uncalled one up directly, which
	// publishes no hangup request.
	queued := peerUp && (c.half == 2 || p.caretaker)
	if peerUp && p.hangupCause == 0 {
		p.hangupCause = c.hangupCause
	}
	if queued {
		s.emit(s.evHangupRequest(p, c.hangupCause, false))
	}
	s.flushControl(c)
	c.gone = true
	s.emit(s.evChannelDestroyed(c))
	delete(s.state.channels, c.id)
	s.forgetChannel(c.id)
	for _, f := range c.onGone {
		f()
	}
	c.onGone = nil
	if queued {
		s.emit(s.evHangupRequest(p, c.hangupCause, true))
	}
	if peerUp {
		s.terminate(p)
	}
	// Its snoops go too, in GET /channels order; sorting only them, not
	// every channel at each hang-up, keeps thousands of calls linear.
	var snoops []*channel
	for _, sn := range s.state.channels {
		if sn.snoopOf == c.id {
			snoops = append(snoops, sn)
		}
	}
	if len(snoops) > 1 {
		slices.SortFunc(snoops, channelOrder)
	}
	for _, sn := range snoops {
		if !sn.hangingUp {
			s.terminate(sn)
		}
	}
}

// sortedChannels lists channels as GET /channels does: by creation, the
// ;2 half of a Local pair before its ;1 half.
func (s *Sim) sortedChannels() []*channel {
	list := make([]*channel, 0, len(s.state.channels))
	for _, c := range s.state.channels {
		list = append(list, c)
	}
	slices.SortFunc(list, channelOrder)
	return list
}

// channelOrder is the order of GET /channels.
func channelOrder(a, b *channel) int {
	ka, kb := a.seq*2, b.seq*2
	if a.half == 1 {
		ka = a.peerSeq()*2 + 1
	}
	if b.half == 1 {
		kb = b.peerSeq()*2 + 1
	}
	return cmp.Compare(ka, kb)
}

func (c *channel) peerSeq() uint64 {
	if c.peer != nil && c.half == 1 {
		return c.peer.seq
	}
	return c.seq
}

// causeText is ast_cause2str.
func causeText(cause int) string {
	if t, ok := causeTexts[cause]; ok {
		return t
	}
	return "Unknown"
}

var causeTexts = map[int]string{
	1: "Unallocated (unassigned) number", 2: "No route to specified transmit network",
	3: "No route to destination", 5: "Misdialed trunk prefix", 6: "Channel unacceptable",
	7: "Call awarded and being delivered in an established channel", 8: "Pre-empted",
	14: "Number ported elsewhere", 16: "Normal Clearing", 17: "User busy",
	18: "No user responding", 19: "User alerting, no answer", 20: "Subscriber absent",
	21: "Call Rejected", 22: "Number changed", 23: "Redirected to new destination",
	26: "Answered elsewhere", 27: "Destination out of order", 28: "Invalid number format",
	29: "Facility rejected", 30: "Response to STATus ENQuiry", 31: "Normal, unspecified",
	34: "Circuit/channel congestion", 38: "Network out of order", 41: "Temporary failure",
	42: "Switching equipment congestion", 43: "Access information discarded",
	44: "Requested channel not available", 50: "Facility not subscribed",
	52: "Outgoing call barred", 54: "Incoming call barred",
	57: "Bearer capability not authorized", 58: "Bearer capability not available",
	65: "Bearer capability not implemented", 66: "Channel not implemented",
	69: "Facility not implemented", 81: "Invalid call reference value",
	88: "Incompatible destination", 95: "Invalid message unspecified",
	96: "Mandatory information element is missing", 97: "Message type nonexist.",
	98: "Wrong message", 99: "Info. element nonexist or not implemented",
	100: "Invalid information element contents", 101: "Message not compatible with call state",
	102: "Recover on timer expiry", 103: "Mandatory IE length error",
	111: "Protocol error, unspecified", 127: "Interworking, unspecified",
}

// hangupReasons maps DELETE /channels reasons to causes
// (convert_reason_to_hangup_code).
var hangupReasons = map[string]int{
	"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 18,
	"rejected": 21, "unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28,
	"codec_mismatch": 58, "interworking": 127, "failure": 38, "answered_elsewhere": 26,
}

type callerJSON struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

type dialplanJSON struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int    `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

type channelJSON struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	State        string       `json:"state"`
	ProtocolID   string       `json:"protocol_id"`
	Caller       callerJSON   `json:"caller"`
	Connected    callerJSON   `json:"connected"`
	Accountcode  string       `json:"accountcode"`
	Dialplan     dialplanJSON `json:"dialplan"`
	Creationtime string       `json:"creationtime"`
	Language     string       `json:"language"`
	Channelvars  orderedVars  `json:"channelvars,omitempty"`
}

// channelBody is the Channel model of c as Asterisk writes it.
func channelBody(c *channel) channelJSON {
	return channelJSON{
		ID: c.id, Name: c.name, State: c.state, ProtocolID: c.protocolID,
		Caller:      callerJSON{c.callerName, c.callerNum},
		Connected:   callerJSON{c.connName, c.connNum},
		Accountcode: c.accountcode,
		Dialplan: dialplanJSON{Context: c.context, Exten: c.exten, Priority: c.priority,
			AppName: c.appName, AppData: c.appData},
		Creationtime: stamp(c.created),
		Language:     c.language,
	}
}
