package client

//go:generate go run ../internal/clientgen -out ops_gen.go -test ops_gen_test.go -ari ../ari
