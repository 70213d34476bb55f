// Command arigen generates the ARI model of package ari from the Asterisk
// api-docs (Swagger 1.1): the operation table (operations_gen.go), the
// resource models (models_gen.go) and the events (events_gen.go).
//
// It is run by go generate in the ari directory:
//
//	go run ../internal/arigen -spec ../../shared/ari/api-docs -out .
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	spec := flag.String("spec", "../../shared/ari/api-docs", "directory holding resources.json and the api-docs it lists")
	out := flag.String("out", ".", "directory the generated files are written to")
	flag.Parse()

	s, err := loadSpec(*spec)
	if err != nil {
		log.Fatalf("arigen: %v", err)
	}
	files, err := generate(s)
	if err != nil {
		log.Fatalf("arigen: %v", err)
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(*out, name), src, 0o644); err != nil {
			log.Fatalf("arigen: %v", err)
		}
	}
}

// generate renders every generated file of package ari, by file name.
func generate(s *spec) (map[string][]byte, error) {
	files := map[string][]byte{}
	for name, gen := range map[string]func(*spec) ([]byte, error){
		"operations_gen.go": genOperations,
		"models_gen.go":     genModels,
		"events_gen.go":     genEvents,
	} {
		src, err := gen(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		files[name] = src
	}
	return files, nil
}

// spec is the whole ARI specification: the api declarations in the order
// resources.json lists them.
type spec struct {
	Resources []*resource
}

// resource is one api declaration file (channels.json, ...).
type resource struct {
	Name   string // file name without .json
	APIs   []api  `json:"apis"`
	Models orderedObject
}

type api struct {
	Path       string      `json:"path"`
	Operations []operation `json:"operations"`
}

type operation struct {
	HTTPMethod     string      `json:"httpMethod"`
	Nickname       string      `json:"nickname"`
	Summary        string      `json:"summary"`
	ResponseClass  string      `json:"responseClass"`
	Upgrade        string      `json:"upgrade"`
	Parameters     []parameter `json:"parameters"`
	ErrorResponses []struct {
		Code   flexInt `json:"code"`
		Reason string  `json:"reason"`
	} `json:"errorResponses"`
}

type parameter struct {
	Name            string          `json:"name"`
	Description     string          `json:"description"`
	Descriptioni    string          `json:"descriptioni"` // a typo the Asterisk 22 endpoints.json carries
	ParamType       string          `json:"paramType"`
	Required        bool            `json:"required"`
	AllowMultiple   bool            `json:"allowMultiple"`
	DataType        string          `json:"dataType"`
	DefaultValue    json.RawMessage `json:"defaultValue"`
	AllowableValues *allowable      `json:"allowableValues"`
}

type allowable struct {
	ValueType string   `json:"valueType"`
	Values    []string `json:"values"`
	Min       *float64 `json:"min"`
	Max       *float64 `json:"max"`
}

type model struct {
	ID          string        `json:"id"`
	Description string        `json:"description"`
	Properties  orderedObject `json:"properties"`
	SubTypes    []string      `json:"subTypes"`
}

type property struct {
	Type            string     `json:"type"`
	Required        bool       `json:"required"`
	Description     string     `json:"description"`
	AllowableValues *allowable `json:"allowableValues"`
}

// orderedObject is a JSON object whose member order is kept: the generated
// code follows the spec's order, which is also Asterisk's output order.
type orderedObject []member

type member struct {
	Key   string
	Value json.RawMessage
}

func (o *orderedObject) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("expected a JSON object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*o = append(*o, member{Key: t.(string), Value: v})
	}
	return nil
}

// loadSpec reads resources.json in dir and every api declaration it lists.
func loadSpec(dir string) (*spec, error) {
	var listing struct {
		APIs []struct {
			Path string `json:"path"`
		} `json:"apis"`
	}
	if err := readJSON(filepath.Join(dir, "resources.json"), &listing); err != nil {
		return nil, err
	}
	s := &spec{}
	for _, a := range listing.APIs {
		// "/api-docs/channels.{format}" -> channels
		name := strings.TrimSuffix(filepath.Base(a.Path), ".{format}")
		r := &resource{Name: name}
		var decl struct {
			APIs   []api         `json:"apis"`
			Models orderedObject `json:"models"`
		}
		if err := readJSON(filepath.Join(dir, name+".json"), &decl); err != nil {
			return nil, err
		}
		r.APIs, r.Models = decl.APIs, decl.Models
		s.Resources = append(s.Resources, r)
	}
	if len(s.Resources) == 0 {
		return nil, fmt.Errorf("%s: resources.json lists no api declarations", dir)
	}
	return s, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// models returns every model of every resource in spec order, and checks
// that model ids are unique across files (they share one Go namespace).
func (s *spec) models() ([]*model, error) {
	var out []*model
	seen := map[string]string{}
	for _, r := range s.Resources {
		for _, m := range r.Models {
			var md model
			if err := json.Unmarshal(m.Value, &md); err != nil {
				return nil, fmt.Errorf("%s model %s: %w", r.Name, m.Key, err)
			}
			if md.ID == "" {
				md.ID = m.Key
			}
			if prev, dup := seen[md.ID]; dup {
				return nil, fmt.Errorf("model %s defined in %s and %s", md.ID, prev, r.Name)
			}
			seen[md.ID] = r.Name
			out = append(out, &md)
		}
	}
	return out, nil
}

// properties decodes the properties of m in spec order.
func (m *model) properties() ([]string, []property, error) {
	names := make([]string, 0, len(m.Properties))
	props := make([]property, 0, len(m.Properties))
	for _, p := range m.Properties {
		var pr property
		if err := json.Unmarshal(p.Value, &pr); err != nil {
			return nil, nil, fmt.Errorf("model %s property %s: %w", m.ID, p.Key, err)
		}
		names = append(names, p.Key)
		props = append(props, pr)
	}
	return names, props, nil
}

// initialisms are the name parts Go spells in capitals.
var initialisms = map[string]string{
	"id": "ID", "ids": "IDs", "uri": "URI", "url": "URL", "ip": "IP",
	"ssrc": "SSRC", "rtt": "RTT", "dtmf": "DTMF", "http": "HTTP", "ms": "MS",
}

// goName turns a spec name (snake_case or lowerCamel) into an exported Go
// identifier: channel_ids -> ChannelIDs, media_uri -> MediaURI.
func goName(s string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(s, "_") {
		if part == "" {
			continue
		}
		if v, ok := initialisms[strings.ToLower(part)]; ok {
			b.WriteString(v)
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// flexInt is an integer the spec writes as a number or, once in
// channels.json, as a string ("code": "404").
type flexInt int

func (n *flexInt) UnmarshalJSON(data []byte) error {
	v, err := strconv.Atoi(strings.Trim(string(data), `"`))
	if err != nil {
		return fmt.Errorf("not an integer: %s", data)
	}
	*n = flexInt(v)
	return nil
}
