package ari

// The generated files (operations_gen.go, models_gen.go, events_gen.go) come
// from the Asterisk 22 api-docs kept beside the repository in ../shared.
//go:generate go run ../internal/arigen -spec ../../shared/ari/api-docs -out .
