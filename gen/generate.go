// Package gen holds the code that oapi-codegen generates from openapi.yaml: the models, the Echo strict-server
// interface and the embedded spec. Only this file, oapi-codegen.yaml and server-overlay.yaml are written by hand.
package gen

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../openapi.yaml
