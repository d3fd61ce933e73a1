// Package gen holds the code that oapi-codegen generates from openapi.yaml: the models, the Echo strict-server
// interface and the embedded spec. Only this file, oapi-codegen.yaml and server-overlay.yaml are written by hand.
package gen

import _ "embed"

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../openapi.yaml

// ServerOverlay is server-overlay.yaml, the overlay the generator applies to the spec: the server reads from it
// which request bodies reach the handlers as raw JSON.
//
//go:embed server-overlay.yaml
var ServerOverlay []byte
