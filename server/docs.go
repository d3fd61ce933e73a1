package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"strings"

	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5/static"
	"github.com/swaggest/swgui/v5emb"

	"github.com/flowbin/flowbin/gen"
)

// docs is Swagger UI: its page and its assets, read once from the binary.
type docs struct {
	index  []byte
	assets map[string][]byte // by file name, uncompressed
}

// loadDocs renders the page. persistAuthorization keeps what is given to Authorize in the browser's localStorage,
// across reloads, where any script of the origin can read it; off, it lives in the page's memory only (the
// default: see Config.DocsPersistAuthorization).
func loadDocs(persistAuthorization bool) (*docs, error) {
	ui := v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "flowbin API",
		SwaggerJSON: "/openapi.json",
		BasePath:    "/docs/",
		ShowTopBar:  false,
		SettingsUI:  map[string]string{"persistAuthorization": strconv.FormatBool(persistAuthorization), "tryItOutEnabled": "true"},
	})
	rec := httptest.NewRecorder()
	ui.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/docs/", nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("server: render Swagger UI: status %d", rec.Code)
	}
	d := &docs{index: rec.Body.Bytes(), assets: map[string][]byte{}}
	entries, err := fs.ReadDir(static.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("server: Swagger UI assets: %w", err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(static.FS, e.Name())
		if err != nil {
			return nil, fmt.Errorf("server: Swagger UI asset %s: %w", e.Name(), err)
		}
		name := e.Name()
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("server: Swagger UI asset %s: %w", name, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				return nil, fmt.Errorf("server: Swagger UI asset %s: %w", name, err)
			}
			name = strings.TrimSuffix(name, ".gz")
		}
		d.assets[name] = b
	}
	return d, nil
}

// GetDocs answers the Swagger UI page.
func (s *Server) GetDocs(context.Context, gen.GetDocsRequestObject) (gen.GetDocsResponseObject, error) {
	return gen.GetDocs200TexthtmlResponse{Body: bytes.NewReader(s.docs.index), ContentLength: int64(len(s.docs.index))}, nil
}

// GetDocsAsset answers a script, style sheet or icon of the Swagger UI page.
func (s *Server) GetDocsAsset(_ context.Context, req gen.GetDocsAssetRequestObject) (gen.GetDocsAssetResponseObject, error) {
	b, ok := s.docs.assets[req.Asset]
	if !ok {
		return nil, newError(http.StatusNotFound, statusNotFound, "ASSET_NOT_FOUND", "no asset %q", req.Asset)
	}
	body, n := bytes.NewReader(b), int64(len(b))
	switch path.Ext(req.Asset) {
	case ".js":
		return gen.GetDocsAsset200ApplicationjavascriptResponse{Body: body, ContentLength: n}, nil
	case ".css":
		return gen.GetDocsAsset200TextcssResponse{Body: body, ContentLength: n}, nil
	case ".png":
		return gen.GetDocsAsset200ImagepngResponse{Body: body, ContentLength: n}, nil
	default:
		return gen.GetDocsAsset200TexthtmlResponse{Body: body, ContentLength: n}, nil
	}
}
