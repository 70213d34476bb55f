// Package apidocs holds Asterisk 22's ARI api-docs (the Swagger 1.2
// files of rest-api/api-docs) and serves them as ast_ari_get_docs does,
// for every server of ARI in the project (the simulator and the gateway).
package apidocs

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
)

//go:embed *.json
var files embed.FS

// docs is the directory as Asterisk serves it: each file parsed and
// written again in ARI's default (compact) format, so the file's
// indentation does not survive. Member order is kept, as Jansson keeps it.
var docs = func() map[string][]byte {
	entries, err := files.ReadDir(".")
	if err != nil {
		panic(err)
	}
	m := make(map[string][]byte, len(entries))
	for _, f := range entries {
		raw, err := files.ReadFile(f.Name())
		if err != nil {
			panic(err)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			panic(fmt.Sprintf("apidocs: %s: %v", f.Name(), err))
		}
		m[f.Name()] = b.Bytes()
	}
	return m
}()

// shippedBasePath is the basePath member of every api-docs file.
const shippedBasePath = `"basePath":"http://localhost:8088/ari"`

// Doc is the document name ("resources.json" when name is "",
// "channels.json"...) with basePath set to http://HOST/ari for the
// request's Host header (the member removed when host is ""), as
// ast_ari_get_docs writes it; false for an unknown document (Asterisk's
// 404 "Resource not found").
func Doc(name, host string) ([]byte, bool) {
	if name == "" {
		name = "resources.json"
	}
	doc, ok := docs[name]
	if !ok || strings.Contains(name, "/") {
		return nil, false
	}
	if host == "" {
		// Every file has members after basePath.
		return []byte(strings.Replace(string(doc), shippedBasePath+",", "", 1)), true
	}
	hb, _ := json.Marshal("http://" + host + "/ari")
	member := `"basePath":` + string(hb)
	return []byte(strings.Replace(string(doc), shippedBasePath, member, 1)), true
}

// Raw is the document name as the Asterisk source ships it (indented).
func Raw(name string) ([]byte, error) { return files.ReadFile(name) }
