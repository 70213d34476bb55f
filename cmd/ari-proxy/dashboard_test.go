package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/wire"
)

// scrapeNames returns the sample names (histograms' _bucket, _sum and
// _count included) and the metric families a /metrics page shows.
func scrapeNames(t *testing.T, url string) (samples, families map[string]bool) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	samples, families = map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, _, _ := strings.Cut(rest, " ")
			families[name] = true
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		samples[name] = true
	}
	return samples, families
}

// dashboardMetrics returns every metric name the dashboard's queries and
// variables use.
func dashboardMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/grafana/ari-proxy.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID        string `json:"uid"`
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("deploy/grafana/ari-proxy.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard has no uid or title")
	}
	exprs := []string{}
	for _, v := range d.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	exprs = append(exprs, alertExprs(t)...)
	seen := map[string]bool{}
	re := regexp.MustCompile(`\b(?:ariproxy|go|process)_[a-zA-Z0-9_]+\b`)
	for _, e := range exprs {
		for _, m := range re.FindAllString(e, -1) {
			seen[m] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TestDashboardMetricsExist runs the server with metrics, gives it a
// request, a bad request and a call, and checks that every metric the
// Grafana dashboard queries is on /metrics, and that docs/operations.md
// explains every ariproxy_ metric the server exports.
func TestDashboardMetricsExist(t *testing.T) {
	sim := localstack.StartSim(t, "02:fc:00:00:00:0d")
	_, busURL := localstack.StartNATS(t)
	prefix := localstack.Prefix()
	w := start(t, command(t, []string{
		"ARI_APPLICATION=demo", "ARI_USERNAME=" + localstack.SimUser, "ARI_PASSWORD=" + localstack.SimPassword,
		"ARI_HTTP_URL=" + sim.URL(), "ARI_WEBSOCKET_URL=" + sim.WebSocketURL(),
		"MESSAGEBUS_URL=" + busURL, "ARI_PROXY_PREFIX=" + prefix, "ARI_PROXY_LOG_FORMAT=json",
	}, "--metrics-addr", "127.0.0.1:0"))
	metricsURL, _ := w.wait(t, "metrics listening", 30*time.Second)["url"].(string)
	node, _ := w.wait(t, "ready", 30*time.Second)["node"].(string)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := localstack.Connect(t, busURL)
	subj := wire.NewSubjects(prefix)
	for _, req := range []string{`{"kind":"AsteriskInfo","key":{}}`, `not a request`} {
		if err := b.RequestMany(ctx, subj.Request(wire.ClassData, "demo", node), []byte(req), func([]byte) bool { return false }); err != nil {
			t.Fatalf("request %s: %v", req, err)
		}
	}
	if _, err := sim.InboundCall("demo"); err != nil {
		t.Fatal(err)
	}

	want := dashboardMetrics(t)
	if len(want) < 10 {
		t.Fatalf("the dashboard queries only %v", want)
	}
	var samples, families map[string]bool
	deadline := time.Now().Add(10 * time.Second)
	for {
		samples, families = scrapeNames(t, metricsURL)
		missing := []string{}
		for _, n := range want {
			if !samples[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics the dashboard queries but /metrics lacks: %v", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}

	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for f := range families {
		if strings.HasPrefix(f, "ariproxy_") && !strings.Contains(string(doc), "`"+f+"`") {
			t.Errorf("docs/operations.md does not explain %s", f)
		}
	}
}

// alertExprs returns the expressions of deploy/prometheus/alerts.yaml.
func alertExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("deploy/prometheus/alerts.yaml: %v", err)
	}
	var out []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("alerts.yaml: a rule without alert or expr in group %s", g.Name)
			}
			out = append(out, r.Expr)
		}
	}
	if len(out) == 0 {
		t.Error("alerts.yaml has no rules")
	}
	return out
}
