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

// Broker is a running private rabbitmq-server.
type Broker struct {
	// Port is the AMQP port on 127.0.0.1.
	Port int
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
func Start(ctx context.Context) (*Broker, error) {
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
