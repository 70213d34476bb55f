package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/bus"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/internal/sharedtest"
	"github.com/ariproxy/ari-proxy/proxy"
)

// suiteApps are the applications arisim/ariclient/suite.js uses; the
// servers serve them all.
func suiteApps() []string {
	apps := []string{"ari-client-suite", "ari-client-suite-ws", "originate-example", "bridge-example", "share"}
	for i := range 100 {
		apps = append(apps, fmt.Sprintf("ari-client-suite-race%d", i))
	}
	return apps
}

// nodeSuite finds node and the ari-client package h7's suite installs.
func nodeSuite(t *testing.T) (node, dir string) {
	node, err := exec.LookPath("node")
	if err != nil {
		sharedtest.SkipOrFail(t, "node is not installed")
	}
	dir, _ = filepath.Abs("../arisim/ariclient")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ari-client", "package.json")); err != nil {
		sharedtest.SkipOrFail(t, "ari-client is not installed: run `npm ci` in arisim/ariclient")
	}
	return node, dir
}

var stepLine = regexp.MustCompile(`^(ok|not ok) (\d+) ([^:]*)`)

// runSuite runs suite.js against base (http://HOST:PORT) and returns its
// step results ("ok 3 start application"...), in order. inbound places
// the calls the suite asks for.
func runSuite(t *testing.T, base, user, pass string, inbound func(app string) error) []string {
	t.Helper()
	var steps []string
	_ = runNode(t, nil, func(line string) {
		if app, ok := strings.CutPrefix(line, "inbound "); ok {
			if err := inbound(app); err != nil {
				t.Errorf("inbound call: %v", err)
			}
		}
		if m := stepLine.FindStringSubmatch(line); m != nil {
			steps = append(steps, m[1]+" "+m[2]+" "+strings.TrimSpace(m[3]))
		}
	}, "suite.js", base, user, pass)
	return steps
}

// runNode runs node with args in arisim/ariclient (ari-client resolves
// from its node_modules), hands each line it prints to onLine, logging
// it, and returns how it exited.
func runNode(t *testing.T, logLine func(string) bool, onLine func(string), args ...string) error {
	t.Helper()
	node, dir := nodeSuite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if logLine == nil || logLine(line) {
			t.Log(line)
		}
		onLine(line)
	}
	return cmd.Wait()
}

// suiteCluster is two simulators and two servers serving every
// application of the suite.
func suiteCluster(t *testing.T, apps []string) *cluster {
	_, url := localstack.StartNATS(t)
	cl := &cluster{url: url, prefix: localstack.Prefix(), sims: map[string]*arisim.Sim{}, app: apps[0]}
	for _, n := range []string{nodeA, nodeB} {
		sim := localstack.StartSimConfig(t, arisim.Config{EntityID: n, TimeScale: 0.05})
		localstack.RunServer(t, proxy.Config{Applications: apps, ARI: localstack.ARIConfig(sim),
			Bus: localstack.Connect(t, url), Prefix: cl.prefix})
		cl.sims[n] = sim
	}
	return cl
}

// TestAriClientGateway runs Asterisk's Node ari-client through the whole
// call scenario (arisim/ariclient/suite.js) against the gateway with two
// nodes behind it, inbound calls alternating between the nodes, and the
// same suite directly against one simulator: every step must pass on
// both and the results agree step by step.
func TestAriClientGateway(t *testing.T) {
	nodeSuite(t)
	direct := localstack.StartSimConfig(t, arisim.Config{TimeScale: 0.05})
	want := runSuite(t, strings.TrimSuffix(direct.URL(), "/ari"), localstack.SimUser, localstack.SimPassword,
		func(app string) error { _, err := direct.InboundCall(app); return err })

	if len(want) == 0 {
		t.Fatal("no step ran directly")
	}
	cl := suiteCluster(t, suiteApps())
	// Once per node: a gateway whose latest handed-out call is on that
	// node, so the scenario's calls and bridge land there (rule 4 of
	// docs/gateway.md); the examples' inbound calls alternate nodes.
	for _, home := range []string{nodeA, nodeB} {
		t.Run("calls on "+home, func(t *testing.T) {
			srv := cl.gateway(t)
			seed(t, cl, srv, home)
			var events sync.Map // node -> count of the suite's events published by it
			sub, err := localstack.Connect(t, cl.url).Subscribe(cl.prefix+"event.ari-client-suite.>", func(m bus.Msg) {
				n := m.Subject[strings.LastIndex(m.Subject, ".")+1:]
				v, _ := events.LoadOrStore(n, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			var mu sync.Mutex
			turn := 0
			got := runSuite(t, srv.URL, user, pass, func(app string) error {
				mu.Lock()
				n := []string{nodeA, nodeB}[turn%2]
				turn++
				mu.Unlock()
				_, err := cl.sims[n].InboundCall(app)
				return err
			})
			for i := range max(len(want), len(got)) {
				var w, g string
				if i < len(want) {
					w = want[i]
				}
				if i < len(got) {
					g = got[i]
				}
				if w != g || !strings.HasPrefix(g, "ok ") {
					t.Errorf("step %d: gateway %q, direct %q", i+1, g, w)
				}
			}
			counts := map[string]int64{}
			events.Range(func(k, v any) bool { counts[k.(string)] = v.(*atomic.Int64).Load(); return true })
			other := nodeB
			if home == nodeB {
				other = nodeA
			}
			if counts[home] == 0 || counts[other] != 0 {
				t.Errorf("the scenario's events by node: %v, want all from %s", counts, home)
			}
		})
	}
}

// seed makes the gateway hand out one call on node: an inbound call of
// application "share" to a WebSocket of its own, closed once it came.
func seed(t *testing.T, cl *cluster, srv *httptest.Server, node string) {
	t.Helper()
	ws := dial(t, srv, "share")
	if _, err := cl.sims[node].InboundCall("share"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		e, ok := read(t, ctx, ws)
		if !ok {
			t.Fatal("no StasisStart for the seed call")
		}
		if e.Type == "StasisStart" {
			if e.AsteriskID != node {
				t.Fatalf("seed call on %s", e.AsteriskID)
			}
			break
		}
	}
	ws.CloseNow()
}

// TestAriClientShare: three ari-client applications connected to the
// gateway share 300 inbound calls placed on two nodes, each handled by
// exactly one of them.
func TestAriClientShare(t *testing.T) {
	nodeSuite(t)
	const calls = 300
	cl := suiteCluster(t, []string{"share"})
	srv := cl.gateway(t)
	script, _ := filepath.Abs("testdata/share.js")
	placed := map[string]bool{}
	counts := map[string]int{}
	per := map[string]int{}
	quiet := func(line string) bool { return !strings.HasPrefix(line, "handled ") }
	err := runNode(t, quiet, func(line string) {
		if line == "ready" {
			go func() {
				for i := range calls {
					id, err := cl.sims[[]string{nodeA, nodeB}[i%2]].InboundCall("share")
					if err != nil {
						t.Errorf("inbound: %v", err)
						return
					}
					mu.Lock()
					placed[id] = true
					mu.Unlock()
				}
			}()
			return
		}
		if f := strings.Fields(line); len(f) == 3 && f[0] == "handled" {
			counts[f[2]]++
			per[f[1]]++
		}
	}, script, srv.URL, user, pass, "share", fmt.Sprint(calls))
	if err != nil {
		t.Errorf("share.js: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(placed) != calls {
		t.Fatalf("%d calls placed", len(placed))
	}
	for id := range placed {
		if counts[id] != 1 {
			t.Errorf("call %s handled %d times", id, counts[id])
		}
	}
	if len(counts) != calls {
		t.Errorf("%d distinct calls handled, want %d", len(counts), calls)
	}
	t.Logf("calls per ari-client application: %v", per)
}

var mu sync.Mutex // guards what TestAriClientShare's caller goroutine fills

// TestAriClientList: ari-client's channels.list through the gateway shows
// the channels of both nodes.
func TestAriClientList(t *testing.T) {
	nodeSuite(t)
	cl := suiteCluster(t, []string{"share"})
	srv := cl.gateway(t)
	dial(t, srv, "share") // holds the application, so the calls stay in Stasis
	want := map[string]bool{}
	for _, n := range []string{nodeA, nodeB} {
		id, err := cl.sims[n].InboundCall("share")
		if err != nil {
			t.Fatal(err)
		}
		want[id] = true
	}
	script, _ := filepath.Abs("testdata/list.js")
	got := map[string]bool{}
	err := runNode(t, nil, func(line string) {
		if id, ok := strings.CutPrefix(line, "channel "); ok {
			got[id] = true
		}
	}, script, srv.URL, user, pass)
	if err != nil {
		t.Fatalf("list.js: %v", err)
	}
	for id := range want {
		if !got[id] {
			t.Errorf("channels.list lacks %s: %v", id, got)
		}
	}
}
