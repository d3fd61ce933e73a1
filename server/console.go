package server

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"path"

	"github.com/flowbin/flowbin/console"
	"github.com/flowbin/flowbin/gen"
)

// consoleFiles is the flow console: its page and its assets, read once from the binary.
type consoleFiles struct {
	index  []byte
	assets map[string][]byte // by file name
}

func loadConsole() (*consoleFiles, error) {
	files := console.Files()
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("server: console assets: %w", err)
	}
	c := &consoleFiles{assets: map[string][]byte{}}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(files, e.Name())
		if err != nil {
			return nil, fmt.Errorf("server: console asset %s: %w", e.Name(), err)
		}
		if e.Name() == "index.html" {
			c.index = b
			continue
		}
		c.assets[e.Name()] = b
	}
	if c.index == nil {
		return nil, fmt.Errorf("server: the console has no index.html (run make console)")
	}
	return c, nil
}

// GetConsole answers the console's page.
func (s *Server) GetConsole(context.Context, gen.GetConsoleRequestObject) (gen.GetConsoleResponseObject, error) {
	return gen.GetConsole200TexthtmlResponse{Body: bytes.NewReader(s.console.index), ContentLength: int64(len(s.console.index))}, nil
}

// GetConsoleAsset answers the console's script or style sheet.
func (s *Server) GetConsoleAsset(_ context.Context, req gen.GetConsoleAssetRequestObject) (gen.GetConsoleAssetResponseObject, error) {
	b, ok := s.console.assets[req.Asset]
	if !ok {
		return nil, newError(http.StatusNotFound, statusNotFound, "ASSET_NOT_FOUND", "no asset %q", req.Asset)
	}
	body, n := bytes.NewReader(b), int64(len(b))
	if path.Ext(req.Asset) == ".css" {
		return gen.GetConsoleAsset200TextcssResponse{Body: body, ContentLength: n}, nil
	}
	return gen.GetConsoleAsset200ApplicationjavascriptResponse{Body: body, ContentLength: n}, nil
}
