// Package wire is the ari-proxy bus protocol: the v5 envelopes (requests,
// responses, announcements, keys), the subjects they travel on, the table
// of v5 request kinds mapped onto ARI operations, and our additive
// extensions (machine-readable error codes, generic operation requests).
//
// The server and the client both encode and decode through this package, so
// the mapping between a v5 kind and an ARI call is written once, as data.
package wire
