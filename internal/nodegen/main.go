// Command nodegen writes the generated part of the Node.js SDK
// (sdk/node/src/generated) from the same tables the Go client is generated
// from: the ARI operation table (ari.Operations), the bus kind table
// (wire.Kinds, wire.KindForOp), the ari package's model and event types and
// the JSON Schemas of docs/schema. Nothing of the TypeScript surface that
// these tables describe is typed by hand.
//
// Run it through go generate:
//
//	go generate ./internal/nodegen
//
// TestGeneratedUpToDate fails when the committed files are stale.
package main

//go:generate go run . -out ../../sdk/node -ari ../../ari -schema ../../docs/schema

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", "../../sdk/node", "directory of the Node SDK (sdk/node)")
	ariDir := flag.String("ari", "../../ari", "directory of package ari (its model and event types)")
	schemaDir := flag.String("schema", "../../docs/schema", "directory of the JSON Schemas")
	flag.Parse()

	files, err := Generate(*ariDir, *schemaDir)
	if err != nil {
		log.Fatalf("nodegen: %v", err)
	}
	for name, src := range files {
		path := filepath.Join(*out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			log.Fatalf("nodegen: %v", err)
		}
		if err := os.WriteFile(path, src, 0o644); err != nil {
			log.Fatalf("nodegen: %v", err)
		}
	}
	fmt.Fprintf(os.Stderr, "nodegen: wrote %d files to %s\n", len(files), *out)
}
