// Package api holds the OpenAPI 3.1 document of sessiongw's HTTP API
// (openapi.yaml): the contract the gateway serves at /v1/openapi.json, its
// tests hold every answer to, and the clients are built from.
package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"gopkg.in/yaml.v3"
)

// YAML is the document as written.
//
//go:embed openapi.yaml
var YAML []byte

var asJSON = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(YAML, &doc); err != nil {
		return nil, fmt.Errorf("api: openapi.yaml: %w", err)
	}
	return json.Marshal(doc)
})

// JSON returns the document as JSON.
func JSON() ([]byte, error) { return asJSON() }
