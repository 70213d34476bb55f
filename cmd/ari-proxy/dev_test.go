package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ariproxy/ari-proxy/client"
)

// TestDev runs "ari-proxy dev" with two nodes: it prints the bus URL and
// the application, a client discovers both servers, POST /call rings the
// application on the node asked for, and SIGINT stops it cleanly.
func TestDev(t *testing.T) {
	cmd := command(t, nil, "dev", "--nats", "127.0.0.1:0", "--control", "127.0.0.1:0", "--nodes", "2", "--application", "devtest")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
	}()
	vars := map[string]string{}
	var nodes []string
	sc := bufio.NewScanner(stdout)
	timer := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, "="); ok && !strings.Contains(k, " ") {
			vars[k] = v
		}
		if rest, ok := strings.CutPrefix(line, "node "); ok {
			_, id, _ := strings.Cut(rest, ": ")
			nodes = append(nodes, id)
		}
		if strings.HasPrefix(line, "ready") {
			break
		}
	}
	timer.Stop()
	go func() {
		for sc.Scan() {
		}
	}()
	if vars["ARI_APPLICATION"] != "devtest" || vars["MESSAGEBUS_URL"] == "" || vars["ARI_PROXY_DEV_CALL_URL"] == "" || len(nodes) != 2 {
		t.Fatalf("dev printed %v, nodes %v", vars, nodes)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.WithURL(vars["MESSAGEBUS_URL"]), client.WithApplication("devtest"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Servers(); len(got) != 2 {
		t.Fatalf("servers %v, want the two nodes %v", got, nodes)
	}
	sub, err := c.Subscribe(ctx, "StasisStart")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(vars["ARI_PROXY_DEV_CALL_URL"]+"?node=2&args=a,b", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var call struct{ Channel, Node string }
	err = json.NewDecoder(resp.Body).Decode(&call)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || call.Node != nodes[1] {
		t.Fatalf("POST /call: %d %+v %v", resp.StatusCode, call, err)
	}
	select {
	case ev := <-sub.Events():
		if ev.Base().AsteriskID != nodes[1] {
			t.Errorf("StasisStart from %s, want %s", ev.Base().AsteriskID, nodes[1])
		}
	case <-ctx.Done():
		t.Fatal("no StasisStart for the placed call")
	}
	if resp, err := http.Post(vars["ARI_PROXY_DEV_CALL_URL"]+"?node=3", "", nil); err != nil || resp.StatusCode != http.StatusConflict {
		t.Errorf("POST /call?node=3: %v %v, want 409", resp.StatusCode, err)
	}

	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("dev after SIGINT: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("dev did not stop after SIGINT")
	}
}

func TestDevBadFlags(t *testing.T) {
	for _, args := range [][]string{{"dev", "--nodes", "0"}, {"dev", "--application", "a.b"}, {"dev", "--time-scale", "0"}, {"dev", "extra"}} {
		if code, _, stderr := exitCode(t, command(t, nil, args...), 10*time.Second); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr)
		}
	}
}
