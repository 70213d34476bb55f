package docs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/arisim"
	"github.com/ariproxy/ari-proxy/internal/sharedtest"
)

// The README's shell blocks each carry a marker comment on the line (or
// lines) before the fence, saying how the block is tested:
//
//	<!-- doc-test: run -->                 each line runs to exit 0 (a line .ci/run contains verbatim is left to CI)
//	<!-- doc-test: start "TEXT" -->        the command starts and must print TEXT; it runs until the next block that is not a start
//	<!-- doc-test: start "TEXT" sim=U:P --> the same, with a simulator accepting U:P standing in for the real Asterisk
//	<!-- doc-test: skip "REASON" -->       not runnable here, for REASON
//	<!-- doc-test: file PATH -->           (any language) the block is the file PATH, verbatim
//
// Started commands run as written except for the addresses: the
// simulator gets --listen on a free port, and the environment points
// servers and applications at free ports, so that the test never depends
// on 8088 or 4222 being free.
var markerRe = regexp.MustCompile(`^<!-- doc-test: (run|start|skip|file)(?: "([^"]*)")?(?: (\S+))? -->$`)

type readmeBlock struct {
	line   int    // of the opening fence
	lang   string // after the fence
	kind   string // run, start, skip, file, or "" without marker
	text   string // start: what to wait for; skip: why; file: the path
	option string // start: sim=USER:PASSWORD
	body   string
}

func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []readmeBlock
	var marker []string
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if m := markerRe.FindStringSubmatch(l); m != nil {
			marker = m
			continue
		}
		if strings.HasPrefix(l, "<!-- doc-test") {
			t.Errorf("README.md:%d: malformed marker %q", i+1, l)
		}
		lang, ok := strings.CutPrefix(l, "```")
		if !ok {
			if strings.TrimSpace(l) != "" {
				marker = nil // a marker belongs to the block right after it
			}
			continue
		}
		blk := readmeBlock{line: i + 1, lang: lang}
		if marker != nil {
			blk.kind, blk.text, blk.option = marker[1], marker[2], marker[3]
			if blk.kind == "file" {
				blk.text = marker[3]
			}
		}
		marker = nil
		var body []string
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			body = append(body, lines[i])
		}
		blk.body = strings.Join(body, "\n")
		out = append(out, blk)
	}
	return out
}

// TestREADMEBlocks checks the README's blocks without running them: every
// shell block is marked, file blocks are their files, the Go version is
// go.mod's, and relative links lead to files.
func TestREADMEBlocks(t *testing.T) {
	root := sharedtest.RepoRoot(t)
	blocks := readmeBlocks(t, filepath.Join(root, "README.md"))
	first := true
	for _, b := range blocks {
		if b.lang == "sh" && b.kind == "" {
			t.Errorf("README.md:%d: shell block without a doc-test marker:\n%s", b.line, b.body)
		}
		if b.lang == "sh" && first {
			first = false
			if n := len(strings.Split(b.body, "\n")); n != 2 {
				t.Errorf("README.md:%d: the first block has %d commands, want 2 (demo, tests)", b.line, n)
			}
		}
		switch b.kind {
		case "file":
			want, err := os.ReadFile(filepath.Join(root, b.text))
			if err != nil {
				t.Errorf("README.md:%d: %v", b.line, err)
			} else if strings.TrimRight(string(want), "\n") != b.body {
				t.Errorf("README.md:%d: the block differs from %s", b.line, b.text)
			}
		case "skip":
			t.Logf("README.md:%d: not run here (%s): %s", b.line, b.text, b.body)
		case "start":
			if b.text == "" || strings.Count(b.body, "\n") > 0 {
				t.Errorf("README.md:%d: a start block is one command with the text to wait for", b.line)
			}
		}
	}

	readme, _ := os.ReadFile(filepath.Join(root, "README.md"))
	gomod, _ := os.ReadFile(filepath.Join(root, "go.mod"))
	if m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod); m == nil || !bytes.Contains(readme, []byte("Go "+string(m[1]))) {
		t.Errorf("README.md does not state go.mod's Go version (%s)", m[1])
	}
	ci, _ := os.ReadFile(filepath.Join(root, ".ci", "run"))
	for _, want := range []string{"go test -race -count=1 ./..."} {
		if !bytes.Contains(ci, []byte(want)) || !bytes.Contains(readme, []byte(want)) {
			t.Errorf("README.md and .ci/run must both run %q", want)
		}
	}
	// Links written by other branches that may not be merged yet.
	pending := map[string]bool{"docs/client.md": true, "docs/rabbitmq.md": true, "sdk/node/": true}
	for _, m := range regexp.MustCompile(`\]\(([^)#:]+)(#[^)]*)?\)`).FindAllSubmatch(readme, -1) {
		target := string(m[1])
		if _, err := os.Stat(filepath.Join(root, target)); err != nil {
			if pending[target] {
				t.Logf("README.md links to %s, not in this tree yet", target)
				continue
			}
			t.Errorf("README.md links to %s: %v", target, err)
		}
	}
}

// TestREADMECommands runs the README's shell blocks as the markers say.
func TestREADMECommands(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the README's commands in -short mode")
	}
	root := sharedtest.RepoRoot(t)
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "ari-proxy"), "./cmd/ari-proxy")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building ari-proxy: %v\n%s", err, out)
	}
	// ./ari-proxy is what the README's build writes: keep one already there.
	if old, err := os.ReadFile(filepath.Join(root, "ari-proxy")); err == nil {
		t.Cleanup(func() { os.WriteFile(filepath.Join(root, "ari-proxy"), old, 0o755) })
	} else {
		t.Cleanup(func() { os.Remove(filepath.Join(root, "ari-proxy")) })
	}

	r := &runner{t: t, root: root, path: bin + string(os.PathListSeparator) + os.Getenv("PATH")}
	defer r.stopAll()
	for _, b := range readmeBlocks(t, filepath.Join(root, "README.md")) {
		if b.lang != "sh" {
			continue
		}
		if b.kind != "start" {
			r.stopAll()
		}
		switch b.kind {
		case "run":
			for _, line := range strings.Split(b.body, "\n") {
				if bytes.Contains(ci, []byte(line)) {
					t.Logf("README.md:%d: %s: run by .ci/run", b.line, line)
					continue
				}
				r.run(b.line, line)
			}
		case "start":
			r.start(b, b.body)
		}
	}
}

// runner runs README commands with an environment of its own.
type runner struct {
	t       *testing.T
	root    string
	path    string
	running []*started
	simAddr string      // of the simulator a sim command started
	busAddr string      // of the embedded bus a serve command started
	fakeARI *arisim.Sim // stands in for the real Asterisk of a sim= block
}

type started struct {
	cmd  *exec.Cmd
	out  *sharedtest.Buffer
	done chan error
	line string
}

// env is the environment of a command: this one without the settings
// of ari-proxy, and the addresses of what runs already.
func (r *runner) env(line string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "ARI_") || strings.HasPrefix(name, "MESSAGEBUS_") || strings.HasPrefix(name, "NATS_") || name == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+r.path)
	ari := r.simAddr
	if r.fakeARI != nil {
		ari = strings.TrimPrefix(strings.TrimSuffix(r.fakeARI.URL(), "/ari"), "http://")
	}
	if strings.Contains(line, " serve") {
		if r.busAddr == "" {
			r.busAddr = sharedtest.FreeAddr(r.t)
		}
		env = append(env, "MESSAGEBUS_URL=embedded://"+r.busAddr)
		if ari != "" {
			env = append(env, "ARI_HTTP_URL=http://"+ari+"/ari", "ARI_WEBSOCKET_URL=ws://"+ari+"/ari/events")
		}
	} else if r.busAddr != "" {
		env = append(env, "MESSAGEBUS_URL=nats://"+r.busAddr)
	}
	return env
}

func (r *runner) command(line string) *exec.Cmd {
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = r.root
	cmd.Env = r.env(line)
	// Its own process group: go run's child gets the signal too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// run runs line to its end; it must exit 0.
func (r *runner) run(at int, line string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := r.command(line)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			r.t.Errorf("README.md:%d: %s: %v\n%s", at, line, err, tail(out.String()))
			return
		}
		r.t.Logf("README.md:%d: %s: ok", at, line)
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		r.t.Errorf("README.md:%d: %s: not done after 10 minutes\n%s", at, line, tail(out.String()))
	}
}

// start starts line and waits until it prints b.text.
func (r *runner) start(b readmeBlock, line string) {
	r.t.Helper()
	if user, ok := strings.CutPrefix(b.option, "sim="); ok {
		u, p, _ := strings.Cut(user, ":")
		r.fakeARI = arisim.New(arisim.Config{User: u, Password: p})
		if _, err := r.fakeARI.Listen("127.0.0.1:0"); err != nil {
			r.t.Fatal(err)
		}
	}
	if strings.Contains(line, " sim") {
		r.simAddr = sharedtest.FreeAddr(r.t)
		line += " --listen " + r.simAddr
	}
	// exec env: the command itself (not a shell waiting for it) gets the
	// signal and its exit status is the one seen.
	cmd := r.command("exec env " + line)
	s := &started{cmd: cmd, out: &sharedtest.Buffer{}, done: make(chan error, 1), line: line}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	r.running = append(r.running, s)
	// Minutes: the first go run compiles.
	deadline := time.After(5 * time.Minute)
	for !strings.Contains(s.out.String(), b.text) {
		select {
		case err := <-s.done:
			s.done <- err
			r.t.Fatalf("README.md:%d: %s ended (%v) before printing %q:\n%s", b.line, line, err, b.text, tail(s.out.String()))
		case <-deadline:
			r.t.Fatalf("README.md:%d: %s did not print %q within 5 minutes:\n%s", b.line, line, b.text, tail(s.out.String()))
		case <-time.After(50 * time.Millisecond):
		}
	}
	r.t.Logf("README.md:%d: %s: printed %q", b.line, line, b.text)
}

// stopAll interrupts what start started, newest first; each must exit 0.
func (r *runner) stopAll() {
	r.t.Helper()
	for i := len(r.running) - 1; i >= 0; i-- {
		s := r.running[i]
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT)
		select {
		case err := <-s.done:
			var ee *exec.ExitError
			// go run exits 1 whenever it was interrupted, whatever its
			// program's status; the program itself must exit 0.
			if err != nil && !(goRun.MatchString(s.line) && errors.As(err, &ee) && ee.ExitCode() == 1) {
				r.t.Errorf("%s: after SIGINT: %v\n%s", s.line, err, tail(s.out.String()))
			}
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
			r.t.Errorf("%s: still running 30 s after SIGINT", s.line)
		}
	}
	r.running = nil
	r.simAddr, r.busAddr = "", ""
	if r.fakeARI != nil {
		r.fakeARI.Close()
		r.fakeARI = nil
	}
}

// goRun matches a command that is go run, after variable assignments.
var goRun = regexp.MustCompile(`^([A-Z_]+=\S* )*go run `)

// tail is the end of a command's output, for error messages.
func tail(s string) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 40 {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-40)}, lines[len(lines)-40:]...)
	}
	return strings.Join(lines, "\n")
}
