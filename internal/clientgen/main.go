// Command clientgen writes the typed API of package client from the ARI
// operation table (ari.Operations) and the bus kind table
// (wire.KindOf) and the entity table (wire.Entities): one handle type per entity with a key, one method per
// operation, one parameter struct per operation with parameters. It also
// writes a test table that calls every generated method.
//
// Run it through go generate in client/:
//
//	//go:generate go run ../internal/clientgen -out ops_gen.go -test ops_gen_test.go -ari ../ari
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
)

func main() {
	out := flag.String("out", "ops_gen.go", "file for the typed API")
	testOut := flag.String("test", "ops_gen_test.go", "file for the test table")
	ariDir := flag.String("ari", "../ari", "directory of package ari (its type names map spec models to Go)")
	flag.Parse()

	models, err := modelNames(*ariDir)
	if err != nil {
		log.Fatalf("clientgen: %v", err)
	}
	api, err := build(models)
	if err != nil {
		log.Fatalf("clientgen: %v", err)
	}
	src, err := api.render()
	if err != nil {
		log.Fatalf("clientgen: %v", err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatalf("clientgen: %v", err)
	}
	if *testOut != "" {
		tsrc, err := api.renderTest()
		if err != nil {
			log.Fatalf("clientgen: %v", err)
		}
		if err := os.WriteFile(*testOut, tsrc, 0o644); err != nil {
			log.Fatalf("clientgen: %v", err)
		}
	}
	fmt.Fprintf(os.Stderr, "clientgen: %d operations, %d handles, %d collections\n", len(api.methods), len(api.handles), len(api.colls))
}
