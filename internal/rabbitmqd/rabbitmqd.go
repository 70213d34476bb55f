// Package rabbitmqd runs a private RabbitMQ broker (Debian's
// rabbitmq-server) on loopback: a free port, a data directory of its own,
// stopped by Stop. Tests, the benchmark and the demo use it; nothing here
// is needed to talk to a real broker.
package rabbitmqd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNotInstalled is returned by Start when rabbitmq-server is not on PATH.
var ErrNotInstalled = errors.New("rabbitmqd: rabbitmq-server is not installed (apt-get install -y rabbitmq-server)")

// StartTimeout bounds how long Start waits for the broker to accept
// connections (it takes about 5 s).
const StartTimeout = 60 * time.Second

// TLS are the PEM files of a TLS listener: the broker's certificate and
// key, and the CA whose client certificates it requires (mutual TLS).
type TLS struct {
	CertFile, KeyFile, CAFile string
}

// Options configure Start.
type Options struct {
	// TLS, when set, adds an amqps listener (Broker.TLSPort) that requires
	// a client certificate signed by TLS.CAFile.
	TLS *TLS
}

// Broker is a running private rabbitmq-server.
type Broker struct {
	// Port is the AMQP port on 127.0.0.1.
	Port int
	// TLSPort is the amqps port on 127.0.0.1 (0 without Options.TLS).
	TLSPort int
	// Node is the Erlang node name (for rabbitmqctl -n).
	Node string
	// Dir holds the broker's data and logs; removed by Stop.
	Dir string

	cmd      *exec.Cmd
	exited   chan struct{}
	logPath  string
	stopOnce sync.Once
}

// URL is the AMQP URL of the broker's default vhost, as the guest user
// (which RabbitMQ accepts from loopback only).
func (b *Broker) URL() string { return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", b.Port) }

// Start starts a broker and returns when it accepts AMQP connections.
// ctx bounds the start only.
func Start(ctx context.Context, opts ...Options) (*Broker, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	bin, err := exec.LookPath("rabbitmq-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	dir, err := os.MkdirTemp("", "rabbitmqd-")
	if err != nil {
		return nil, fmt.Errorf("rabbitmqd: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dist, err := freePort()
	if err != nil {
		return nil, err
	}
	b := &Broker{Port: port, Node: fmt.Sprintf("rmqd%d@localhost", port), Dir: dir, exited: make(chan struct{}),
		logPath: filepath.Join(dir, "out.log")}
	for _, sub := range []string{"mnesia", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("rabbitmqd: %w", err)
		}
	}
	var extraEnv []string
	if o.TLS != nil {
		if b.TLSPort, err = freePort(); err != nil {
			return nil, err
		}
		conf, err := writeTLSConfig(dir, b.TLSPort, *o.TLS)
		if err != nil {
			return nil, err
		}
		extraEnv = append(extraEnv, "RABBITMQ_CONFIG_FILE="+conf)
	}
	// As root, Debian's wrapper runs the broker as the rabbitmq user,
	// which must own its folders.
	if os.Geteuid() == 0 {
		if err := chownTree(dir, "rabbitmq"); err != nil {
			return nil, fmt.Errorf("rabbitmqd: %w", err)
		}
	}
	out, err := os.Create(b.logPath)
	if err != nil {
		return nil, fmt.Errorf("rabbitmqd: %w", err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"RABBITMQ_NODE_PORT="+strconv.Itoa(port),
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODENAME="+b.Node,
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(dist),
		"HOME="+rabbitHome(),
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Stop ends the whole group
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("rabbitmqd: starting %s: %w", bin, err)
	}
	b.cmd = cmd
	go func() {
		_ = cmd.Wait()
		out.Close()
		close(b.exited)
	}()
	if err := b.WaitReady(ctx); err != nil {
		b.Stop()
		return nil, err
	}
	return b, nil
}

// writeTLSConfig copies the TLS files into dir (the broker may not read
// the originals' folder) and writes a rabbitmq.conf with the listener.
func writeTLSConfig(dir string, port int, t TLS) (string, error) {
	names := map[string]string{"ca.pem": t.CAFile, "cert.pem": t.CertFile, "key.pem": t.KeyFile}
	for name, src := range names {
		data, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("rabbitmqd: TLS: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", fmt.Errorf("rabbitmqd: TLS: %w", err)
		}
	}
	conf := filepath.Join(dir, "rabbitmq.conf")
	text := fmt.Sprintf(`listeners.ssl.default = 127.0.0.1:%d
ssl_options.cacertfile = %s
ssl_options.certfile = %s
ssl_options.keyfile = %s
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
`, port,
		filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return "", fmt.Errorf("rabbitmqd: TLS: %w", err)
	}
	return conf, nil
}

// WaitReady waits until the broker accepts TCP connections on its port.
func (b *Broker) WaitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port))
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-b.exited:
			return fmt.Errorf("rabbitmqd: broker exited during start: %s", b.tail())
		case <-ctx.Done():
			return fmt.Errorf("rabbitmqd: broker not ready on %s: %w; log: %s", addr, ctx.Err(), b.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Ctl runs rabbitmqctl against the broker (e.g. "stop_app",
// "add_user", "set_permissions").
func (b *Broker) Ctl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "rabbitmqctl", append([]string{"-n", b.Node}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+rabbitHome())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("rabbitmqctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Settings describes how the broker runs, for a benchmark's report: its
// version and what configures it. Start gives it nothing beyond its
// listener, node name and directories (and the TLS listener of
// Options.TLS), so unless the environment sets one of the variables
// below it runs as Debian's package ships it (Erlang flags included:
// schedulers without busy waiting, +sbwt none).
func (b *Broker) Settings(ctx context.Context) string {
	version := "unknown version"
	cmd := exec.CommandContext(ctx, "rabbitmqctl", "-q", "version")
	cmd.Env = append(os.Environ(), "HOME="+rabbitHome())
	if out, err := cmd.Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	var set []string
	for _, v := range tuningEnv {
		if val, ok := os.LookupEnv(v); ok {
			set = append(set, v+"="+val)
		}
	}
	for _, f := range systemConfig {
		if data, err := os.ReadFile(f); err == nil && hasSettings(string(data)) {
			set = append(set, f)
		}
	}
	if b.TLSPort != 0 {
		set = append(set, "a TLS listener")
	}
	if len(set) == 0 {
		return "rabbitmq-server " + version + ", the package's default settings"
	}
	return "rabbitmq-server " + version + " with " + strings.Join(set, ", ")
}

// tuningEnv are the environment variables through which an operator
// changes a broker's settings (rabbitmq-env.conf names them without the
// RABBITMQ_ prefix); the broker Start runs inherits them.
var tuningEnv = []string{
	"RABBITMQ_CONFIG_FILE", "RABBITMQ_CONFIG_FILES", "RABBITMQ_ADVANCED_CONFIG_FILE",
	"RABBITMQ_SERVER_ERL_ARGS", "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "RABBITMQ_SCHEDULER_BIND_TYPE",
	"RABBITMQ_DISTRIBUTION_BUFFER_SIZE", "RABBITMQ_MAX_NUMBER_OF_PROCESSES", "RABBITMQ_MAX_NUMBER_OF_ATOMS",
}

// systemConfig are the files of the system's broker that a broker Start
// runs reads too, unless the environment names others.
var systemConfig = []string{"/etc/rabbitmq/rabbitmq.conf", "/etc/rabbitmq/advanced.config", "/etc/rabbitmq/rabbitmq-env.conf"}

// hasSettings reports whether a configuration file sets anything (lines
// other than comments and blanks; Debian ships rabbitmq-env.conf with
// comments only).
func hasSettings(text string) bool {
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "%") {
			return true
		}
	}
	return false
}

// CPUTime is the CPU time (user and system) the broker's processes have
// used so far: the process Start ran and everything it started (the
// Erlang VM, which as root runs in a session of its own under su).
// Benchmarks divide its growth by their operations: CPU per operation is
// far steadier than latency on a shared machine. Linux only (it reads
// /proc).
func (b *Broker) CPUTime() (time.Duration, error) {
	if b.cmd == nil || b.cmd.Process == nil {
		return 0, errors.New("rabbitmqd: broker not started")
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("rabbitmqd: CPU time: %w", err)
	}
	type proc struct{ ppid, ticks int64 }
	procs := map[int64]proc{}
	for _, e := range ents {
		pid, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// The fields after the command name, which is in parentheses and
		// may hold spaces: state ppid pgrp ... utime (14th of the line)
		// stime (15th).
		text := string(data)
		f := strings.Fields(text[strings.LastIndexByte(text, ')')+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.ParseInt(f[1], 10, 64)
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		procs[pid] = proc{ppid, u + st}
	}
	root := int64(b.cmd.Process.Pid)
	var ticks int64
	for pid, p := range procs {
		// Descends from root? (A few hops: sh, su, sh, the script, beam.)
		for at, hops := pid, 0; hops < 16 && at > 1; hops++ {
			if at == root {
				ticks += p.ticks
				break
			}
			at = procs[at].ppid
		}
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	return time.Duration(ticks) * (time.Second / 100), nil
}

// Restart stops the broker's application and starts it again (every
// connection drops, transient queues and messages are lost, durable ones
// stay), waiting until it accepts connections.
func (b *Broker) Restart(ctx context.Context) error {
	if _, err := b.Ctl(ctx, "stop_app"); err != nil {
		return err
	}
	if _, err := b.Ctl(ctx, "start_app"); err != nil {
		return err
	}
	return b.WaitReady(ctx)
}

// Stop stops the broker (rabbitmqctl stop, then signals to its process
// group) and removes its directory. Calling it again does nothing.
func (b *Broker) Stop() {
	b.stopOnce.Do(func() {
		if b.cmd != nil && b.cmd.Process != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			_, _ = b.Ctl(ctx, "stop")
			cancel()
			pgid := b.cmd.Process.Pid
			select {
			case <-b.exited:
			case <-time.After(5 * time.Second):
				_ = syscall.Kill(-pgid, syscall.SIGTERM)
				select {
				case <-b.exited:
				case <-time.After(5 * time.Second):
					_ = syscall.Kill(-pgid, syscall.SIGKILL)
					<-b.exited
				}
			}
		}
		_ = os.RemoveAll(b.Dir)
	})
}

// tail is the end of the broker's output, for errors.
func (b *Broker) tail() string {
	data, _ := os.ReadFile(b.logPath)
	s := strings.TrimSpace(string(data))
	if len(s) > 800 {
		s = "..." + s[len(s)-800:]
	}
	return s
}

// rabbitHome is where rabbitmqctl finds the Erlang cookie the broker uses.
func rabbitHome() string {
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("rabbitmq"); err == nil && u.HomeDir != "" {
			return u.HomeDir
		}
		return "/var/lib/rabbitmq"
	}
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return os.TempDir()
}

func chownTree(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("rabbitmqd: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
