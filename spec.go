// Package flowbin embeds the API description, openapi.yaml, which is the source of truth of flowbin's HTTP API.
package flowbin

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/flowbin/flowbin/flow"
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

// UUIDFormat is what `format: uuid` means in openapi.yaml: a UUID of any version in its canonical 36-character
// form (VoIPbin's ids are version 1, flowbin's version 7). It is a kin-openapi string format validator, for the
// server's request validation and the tests' contract check alike.
type UUIDFormat struct{}

// Validate refuses s unless it is a UUID in canonical form.
func (UUIDFormat) Validate(s string) error {
	if _, ok := flow.ParseID(s); !ok {
		return fmt.Errorf("%q is not a UUID", s)
	}
	return nil
}
