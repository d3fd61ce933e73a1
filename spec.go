// Package flowbin embeds the API description, openapi.yaml, which is the source of truth of flowbin's HTTP API.
package flowbin

import (
	_ "embed"
	"encoding/json"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var openapiYAML []byte

// OpenAPIYAML returns openapi.yaml as it is kept in the repository.
func OpenAPIYAML() []byte { return openapiYAML }

var openapiJSON = sync.OnceValue(func() []byte {
	var doc any
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		panic("flowbin: embedded openapi.yaml does not parse: " + err.Error())
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("flowbin: embedded openapi.yaml does not convert to JSON: " + err.Error())
	}
	return b
})

// OpenAPIJSON returns openapi.yaml converted to JSON.
func OpenAPIJSON() []byte { return openapiJSON() }
