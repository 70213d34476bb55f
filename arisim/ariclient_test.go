package arisim

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

var clientSummary = regexp.MustCompile(`^ari-client: (\d+)/(\d+)$`)

// TestAriClient runs Asterisk's own Node ARI client (npm ari-client, in
// ariclient/, installed by `npm ci` there) through a whole call against
// the simulator: it builds its API from /ari/api-docs, and every step of
// ariclient/suite.js must pass.
func TestAriClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		sharedtest.SkipOrFail(t, "node is not installed")
	}
	dir, _ := filepath.Abs("ariclient")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ari-client", "package.json")); err != nil {
		sharedtest.SkipOrFail(t, "ari-client is not installed: run `npm ci` in arisim/ariclient")
	}
	s := testSim(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "suite.js", strings.TrimSuffix(s.URL(), "/ari"), s.user, s.password)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var summary []string
	var failed []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		switch {
		case strings.HasPrefix(line, "inbound "):
			// The suite asks for a call from the dialplan into an app.
			if _, err := s.InboundCall(strings.TrimPrefix(line, "inbound ")); err != nil {
				t.Errorf("inbound call: %v", err)
			}
		case strings.HasPrefix(line, "not ok "):
			failed = append(failed, line)
		case clientSummary.MatchString(line):
			summary = clientSummary.FindStringSubmatch(line)
		}
	}
	waitErr := cmd.Wait()
	for _, f := range failed {
		t.Error(f)
	}
	if summary == nil {
		t.Fatalf("no summary line from suite.js (%v)", waitErr)
	}
	passed, _ := strconv.Atoi(summary[1])
	total, _ := strconv.Atoi(summary[2])
	if passed != total || total == 0 || waitErr != nil {
		t.Fatalf("ari-client: %d/%d (%v)", passed, total, waitErr)
	}
}
