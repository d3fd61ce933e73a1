// Package console holds the built flow console (dist/, made from src/ by `make console`), embedded in the binary
// so that serving it needs nothing but Go. dist/ is committed like gen/: CI rebuilds it and fails on a difference.
package console

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Files returns the built console: index.html and its assets, at the root.
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path; fs.Sub fails only on invalid ones
	}
	return sub
}
