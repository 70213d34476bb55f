package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ariproxy/ari-proxy/internal/config"
	"github.com/ariproxy/ari-proxy/internal/localstack"
	"github.com/ariproxy/ari-proxy/proxy"
)

// goModVersion is the go directive of go.mod.
func goModVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// dockerfile is deploy/Dockerfile split into its instructions.
type instruction struct{ cmd, args string }

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cmd, args, _ := strings.Cut(line, " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args)})
	}
	return out
}

// TestDockerfile: multi-stage, the build stage on go.mod's Go, the final
// stage distroless or scratch and not root.
func TestDockerfile(t *testing.T) {
	var froms []string
	user := ""
	for _, in := range readDockerfile(t) {
		switch in.cmd {
		case "FROM":
			froms = append(froms, in.args)
		case "USER":
			user = in.args
		}
	}
	if len(froms) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(froms))
	}
	if want := "golang:" + goModVersion(t); !strings.HasPrefix(froms[0], want) {
		t.Errorf("build stage FROM %s, want %s (go.mod's version)", froms[0], want)
	}
	last := froms[len(froms)-1]
	if !strings.HasPrefix(last, "scratch") && !strings.HasPrefix(last, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s, want scratch or distroless/static", last)
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		t.Errorf("final stage USER %q, want a non-root user", user)
	}
}

// TestStaticBuild runs the Dockerfile's go build line (CGO_ENABLED=0, the
// version set by -ldflags): the binary must be static, by its ELF headers
// and by ldd, and report the version.
func TestStaticBuild(t *testing.T) {
	t.Parallel() // the build takes a while the first time (nothing of it is cached yet)
	if testing.Short() {
		t.Skip("skipping the static build in -short mode")
	}
	var build string
	for _, in := range readDockerfile(t) {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			build = in.args
		}
	}
	if !strings.HasPrefix(build, "CGO_ENABLED=0 go build ") {
		t.Fatalf("Dockerfile's build line %q does not start with CGO_ENABLED=0 go build", build)
	}
	out := filepath.Join(t.TempDir(), "ari-proxy")
	line := strings.NewReplacer("${VERSION}", "v9.9.9-test", "/out/ari-proxy", out).Replace(build)
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, b)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries: %v", libs)
	}
	if ldd, err := exec.LookPath("ldd"); err != nil {
		t.Log("ldd not installed: checked the ELF headers only")
	} else {
		b, _ := exec.Command(ldd, out).CombinedOutput() // exits 1 for a static binary
		if !strings.Contains(string(b), "not a dynamic executable") && !strings.Contains(string(b), "statically linked") {
			t.Errorf("ldd %s: %s", out, b)
		}
	}
	b, err := exec.Command(out, "version").Output()
	if err != nil || !strings.Contains(string(b), "ari-proxy v9.9.9-test ") {
		t.Errorf("version: %q, %v", b, err)
	}
}

// TestSystemdUnit verifies deploy/systemd/ari-proxy.service with
// systemd-analyze, the unit's binary path pointed at a real executable
// (verify checks that it exists). Any warning fails.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("systemd/ari-proxy.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=/usr/local/bin/ari-proxy serve", "EnvironmentFile=/etc/ari-proxy/ari-proxy.env",
		"RestartPreventExitStatus=2", "KillSignal=SIGTERM"} {
		if !bytes.Contains(unit, []byte(want+"\n")) {
			t.Errorf("unit lacks %q", want)
		}
	}
	checkEnvFile(t, "systemd/ari-proxy.env")
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("skipping: systemd-analyze is not installed (apt-get install systemd); the unit's text was checked")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ari-proxy.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/ari-proxy"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// settingEnv is every environment variable the server reads.
func settingEnv() map[string]bool {
	m := map[string]bool{config.ConfigEnv: true}
	for _, s := range config.Settings {
		for _, e := range s.Env {
			m[e] = true
		}
	}
	return m
}

// checkEnvFile: every variable of an environment file is a setting.
func checkEnvFile(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	known := settingEnv()
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "#")
		name, _, ok := strings.Cut(line, "=")
		if !ok || strings.Contains(name, " ") {
			continue
		}
		if !known[name] {
			t.Errorf("%s: %s is not a setting of ari-proxy serve", path, name)
		}
	}
}

// Only what the test reads of the manifests.
type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	Containers []container `yaml:"containers"`
}

type container struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Env   []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	LivenessProbe   *probe `yaml:"livenessProbe"`
	ReadinessProbe  *probe `yaml:"readinessProbe"`
	SecurityContext struct {
		RunAsNonRoot             bool `yaml:"runAsNonRoot"`
		AllowPrivilegeEscalation bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool `yaml:"readOnlyRootFilesystem"`
	} `yaml:"securityContext"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

// TestKubernetesManifests: every manifest parses as YAML (strictly: no
// unknown or duplicate keys in what is read), and the ari-proxy sidecar
// beside Asterisk probes /livez and /readyz on the metrics port, paths
// the server's health handler serves, with settings the server knows.
func TestKubernetesManifests(t *testing.T) {
	files, _ := filepath.Glob("kubernetes/*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests in deploy/kubernetes")
	}
	served := servedPaths(t)
	known := settingEnv()
	sidecars := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for n := 1; ; n++ {
			var raw yaml.Node
			if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s document %d: %v", file, n, err)
			}
			var m manifest
			if err := raw.Decode(&m); err != nil {
				t.Fatalf("%s document %d: %v", file, n, err)
			}
			if m.Kind == "" || m.Metadata.Name == "" {
				t.Errorf("%s document %d: no kind or metadata.name", file, n)
			}
			if m.Kind != "Deployment" {
				continue
			}
			names := []string{}
			for _, c := range m.Spec.Template.Spec.Containers {
				names = append(names, c.Name)
				if c.Name != "ari-proxy" {
					continue
				}
				sidecars++
				checkSidecar(t, file, c, served, known)
			}
			if !slices.Contains(names, "asterisk") {
				t.Errorf("%s: Deployment %s has no asterisk container beside the proxy (%v)", file, m.Metadata.Name, names)
			}
		}
	}
	if sidecars == 0 {
		t.Error("no Deployment with an ari-proxy container")
	}
}

func checkSidecar(t *testing.T, file string, c container, served map[string]bool, known map[string]bool) {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		if !known[e.Name] {
			t.Errorf("%s: env %s is not a setting of ari-proxy serve", file, e.Name)
		}
		env[e.Name] = e.Value
	}
	addr := env["ARI_PROXY_METRICS_ADDR"]
	_, port, _ := strings.Cut(addr, ":")
	if port == "" {
		t.Fatalf("%s: the proxy has no ARI_PROXY_METRICS_ADDR, so no probes", file)
	}
	portName := ""
	for _, p := range c.Ports {
		if p.Name != "" && port == itoa(p.ContainerPort) {
			portName = p.Name
		}
	}
	for kind, pr := range map[string]*probe{"/livez": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if pr == nil {
			t.Errorf("%s: no probe for %s", file, kind)
			continue
		}
		if pr.HTTPGet.Path != kind || !served[pr.HTTPGet.Path] {
			t.Errorf("%s: probe path %q, want %s (served: %v)", file, pr.HTTPGet.Path, kind, served)
		}
		if got := toString(pr.HTTPGet.Port); got != port && (portName == "" || got != portName) {
			t.Errorf("%s: probe %s on port %s, the metrics listen on %s", file, kind, got, port)
		}
	}
	sc := c.SecurityContext
	if !sc.RunAsNonRoot || sc.AllowPrivilegeEscalation || !sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: proxy securityContext %+v: want non-root, no privilege escalation, read-only root", file, sc)
	}
}

// servedPaths asks a proxy server's health handler which probe paths it
// answers (any status but 404 and 405).
func servedPaths(t *testing.T) map[string]bool {
	t.Helper()
	_, url := localstack.StartNATS(t)
	sim := localstack.StartSim(t, "02:fc:00:00:00:01")
	srv, err := proxy.New(proxy.Config{Applications: []string{"x"}, Bus: localstack.Connect(t, url), ARI: localstack.ARIConfig(sim)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.HealthHandler())
	defer hs.Close()
	out := map[string]bool{}
	for _, p := range append(slices.Clone(proxy.ProbePaths), "/nope") {
		resp, err := http.Get(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			out[p] = true
		}
	}
	if out["/nope"] {
		t.Fatal("the health handler answers any path")
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// toString shows a port given as a number or a name.
func toString(v any) string {
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x)
	case string:
		return x
	}
	return ""
}
