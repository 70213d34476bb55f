package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/internal/localstack"
)

// The test binary is also the example: with this variable set it runs
// main(), so the test sees the program's real output and exit code.
const beMain = "HELLO_TEST_BE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestHello runs the example against the in-process stack (NATS, the
// simulator, a proxy server): a call arrives, is answered, hears the
// prompt to its end and is hung up; SIGINT stops the program with 0.
func TestHello(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := localstack.Start(ctx, localstack.Options{Application: "hello", TimeScale: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), beMain+"=1", "MESSAGEBUS_URL="+st.BusURL(), "ARI_APPLICATION=hello")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out strings.Builder
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			lines <- sc.Text()
		}
		close(lines)
	}()
	wait := func(want string) string {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the program ended before %q", want)
				}
				if strings.Contains(l, want) {
					return l
				}
			case <-ctx.Done():
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("no %q in:\n%s", want, out.String())
			}
		}
	}
	wait("waiting for calls to hello")
	id, err := st.Sim.InboundCall("hello")
	if err != nil {
		t.Fatal(err)
	}
	wait("call " + id + " from")
	wait("call " + id + ": played hello-world (err=<nil>), hanging up")

	// The channel is gone from the simulated Asterisk.
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest("GET", st.Sim.URL()+"/channels/"+id, nil)
		req.SetBasicAuth(st.SimUser, st.SimPassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel %s still there (status %d)", id, resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}

	_ = cmd.Process.Signal(syscall.SIGINT)
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGINT: %v\n%s", err, out.String())
	}
}
