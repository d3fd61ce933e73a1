package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/swaggest/swgui/v5/static"

	"github.com/flowbin/flowbin/gen"
)

// docsPage is flowbin's Swagger UI page: the page, the script that starts Swagger UI (a file, so that no inline
// script is needed) and its style sheet.
//
//go:embed docspage
var docsPage embed.FS

// loadDocs reads Swagger UI's assets and renders the page. persistAuthorization keeps what is given to Authorize
// in the browser's localStorage, across reloads, where any script of the origin can read it; off, it lives in the
// page's memory only (the default: see Config.DocsPersistAuthorization).
func loadDocs(persistAuthorization bool, csp string) (set *assetSet, page *asset, err error) {
	set = newAssetSet("/docs/")
	entries, err := fs.ReadDir(static.FS, ".")
	if err != nil {
		return nil, nil, fmt.Errorf("server: Swagger UI assets: %w", err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(static.FS, e.Name())
		if err != nil {
			return nil, nil, fmt.Errorf("server: Swagger UI asset %s: %w", e.Name(), err)
		}
		name := e.Name()
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, nil, fmt.Errorf("server: Swagger UI asset %s: %w", name, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				return nil, nil, fmt.Errorf("server: Swagger UI asset %s: %w", name, err)
			}
			name = strings.TrimSuffix(name, ".gz")
		}
		set.add(name, b)
	}
	for _, name := range []string{"flowbin-docs.js", "flowbin-docs.css"} {
		b, err := docsPage.ReadFile("docspage/" + name)
		if err != nil {
			return nil, nil, fmt.Errorf("server: docs page: %w", err)
		}
		set.add(name, b)
	}
	html, err := docsPage.ReadFile("docspage/index.html")
	if err != nil {
		return nil, nil, fmt.Errorf("server: docs page: %w", err)
	}
	html = bytes.ReplaceAll(html, []byte("{{persistAuthorization}}"), []byte(strconv.FormatBool(persistAuthorization)))
	return set, set.page(html, csp), nil
}

// GetDocs answers the Swagger UI page.
func (s *Server) GetDocs(_ context.Context, req gen.GetDocsRequestObject) (gen.GetDocsResponseObject, error) {
	return s.docsPage.answer(req.Params.IfNoneMatch, req.Params.AcceptEncoding), nil
}

// GetDocsAsset answers a script, style sheet or icon of the Swagger UI page.
func (s *Server) GetDocsAsset(_ context.Context, req gen.GetDocsAssetRequestObject) (gen.GetDocsAssetResponseObject, error) {
	return s.docs.find(req.Asset, req.Params.IfNoneMatch, req.Params.AcceptEncoding)
}
