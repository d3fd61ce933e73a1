package server

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/flowbin/flowbin/console"
	"github.com/flowbin/flowbin/gen"
)

// loadConsole reads the flow console from the binary: its page and its assets.
func loadConsole(csp string) (set *assetSet, page *asset, err error) {
	files := console.Files()
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("server: console assets: %w", err)
	}
	set = newAssetSet("/console/")
	var index []byte
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(files, e.Name())
		if err != nil {
			return nil, nil, fmt.Errorf("server: console asset %s: %w", e.Name(), err)
		}
		if e.Name() == "index.html" {
			index = b
			continue
		}
		set.add(e.Name(), b)
	}
	if index == nil {
		return nil, nil, fmt.Errorf("server: the console has no index.html (run make console)")
	}
	return set, set.page(index, csp), nil
}

// GetConsole answers the console's page.
func (s *Server) GetConsole(_ context.Context, req gen.GetConsoleRequestObject) (gen.GetConsoleResponseObject, error) {
	return s.consolePage.answer(req.Params.IfNoneMatch, req.Params.AcceptEncoding), nil
}

// GetConsoleAsset answers the console's script or style sheet.
func (s *Server) GetConsoleAsset(_ context.Context, req gen.GetConsoleAssetRequestObject) (gen.GetConsoleAssetResponseObject, error) {
	return s.console.find(req.Asset, req.Params.IfNoneMatch, req.Params.AcceptEncoding)
}
