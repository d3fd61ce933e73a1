package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
)

// assetSet is the one handler of the files embedded in the binary (the console's, Swagger UI's): each file is
// answered with a strong ETag (304 to If-None-Match), compressed when the client accepts it (br, else gzip;
// compressed once, on first demand, and kept), and cached for a year under its fingerprinted name (the content's
// hash in the name: the pages reference those) or revalidated under its plain name and for pages.
type assetSet struct {
	prefix string            // "/console/": where the files are served, as pages reference them
	files  map[string]*asset // by name, plain and fingerprinted
}

// asset is one embedded file, with its encodings once made.
type asset struct {
	contentType string
	body        []byte
	hash        string // of the body: the ETag's and the fingerprint's
	immutable   bool   // fingerprinted name: the body behind it never changes
	csp         string // pages only
	br, gz      lazyEncoding
}

type lazyEncoding struct {
	once sync.Once
	body []byte
}

func newAssetSet(prefix string) *assetSet {
	return &assetSet{prefix: prefix, files: map[string]*asset{}}
}

// contentTypes are the media types of the files served, as the spec lists them.
var contentTypes = map[string]string{".js": "application/javascript", ".css": "text/css", ".png": "image/png", ".html": "text/html"}

func contentHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// add serves body under name and under its fingerprinted name (app.js: app.<hash>.js).
func (s *assetSet) add(name string, body []byte) {
	ct, hash := contentTypes[path.Ext(name)], contentHash(body)
	if ct == "" {
		ct = "application/octet-stream"
	}
	s.files[name] = &asset{contentType: ct, body: body, hash: hash}
	s.files[s.fingerprinted(name, hash)] = &asset{contentType: ct, body: body, hash: hash, immutable: true}
}

func (s *assetSet) fingerprinted(name, hash string) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hash + ext
}

// page makes an HTML page whose references to the set's files name them fingerprinted, answered with csp.
func (s *assetSet) page(html []byte, csp string) *asset {
	for name, a := range s.files {
		if !a.immutable {
			html = bytes.ReplaceAll(html, []byte(`"`+s.prefix+name+`"`), []byte(`"`+s.prefix+s.fingerprinted(name, a.hash)+`"`))
		}
	}
	return &asset{contentType: "text/html", body: html, hash: contentHash(html), csp: csp}
}

// compressible: text, large enough for compression to pay.
func (a *asset) compressible() bool { return a.contentType != "image/png" && len(a.body) >= 512 }

func (a *asset) encoded(encoding string) []byte {
	var buf bytes.Buffer
	switch encoding {
	case "br":
		a.br.once.Do(func() {
			w := brotli.NewWriterLevel(&buf, 6)
			_, _ = w.Write(a.body)
			_ = w.Close()
			a.br.body = bytes.Clone(buf.Bytes())
		})
		return a.br.body
	default:
		a.gz.once.Do(func() {
			w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = w.Write(a.body)
			_ = w.Close()
			a.gz.body = bytes.Clone(buf.Bytes())
		})
		return a.gz.body
	}
}

// answer is what a request for the file gets, by its headers.
func (a *asset) answer(ifNoneMatch, acceptEncoding *string) assetAnswer {
	ans := assetAnswer{a: a, encoding: chooseEncoding(acceptEncoding)}
	if !a.compressible() {
		ans.encoding = ""
	}
	ans.etag = `"` + a.hash + map[string]string{"br": "-br", "gzip": "-gz"}[ans.encoding] + `"`
	ans.notModified = ifNoneMatch != nil && matchesETag(*ifNoneMatch, a.hash)
	return ans
}

// chooseEncoding is br when the client accepts it, else gzip, else "" (identity).
func chooseEncoding(acceptEncoding *string) string {
	if acceptEncoding == nil {
		return ""
	}
	accepted := map[string]bool{}
	for _, part := range strings.Split(*acceptEncoding, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
				continue
			}
		}
		accepted[strings.ToLower(strings.TrimSpace(name))] = true
	}
	switch {
	case accepted["br"]:
		return "br"
	case accepted["gzip"], accepted["*"]:
		return "gzip"
	}
	return ""
}

// matchesETag compares as If-None-Match does (weakly): any listed tag of the same content, in any encoding, or *.
func matchesETag(header, hash string) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" {
			return true
		}
		tag = strings.Trim(tag, `"`)
		tag = strings.TrimSuffix(strings.TrimSuffix(tag, "-br"), "-gz")
		if tag == hash {
			return true
		}
	}
	return false
}

// assetAnswer writes a file's answer. It is the answer of every operation that serves embedded files.
type assetAnswer struct {
	a           *asset
	encoding    string
	etag        string
	notModified bool
}

func (r assetAnswer) write(w http.ResponseWriter) error {
	h := w.Header()
	h.Set("ETag", r.etag)
	h.Set("Vary", "Accept-Encoding")
	if r.a.immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if r.a.csp != "" {
		h.Set("Content-Security-Policy", r.a.csp)
	}
	if r.notModified {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	body := r.a.body
	if r.encoding != "" {
		body = r.a.encoded(r.encoding)
		h.Set("Content-Encoding", r.encoding)
	}
	h.Set("Content-Type", r.a.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

func (r assetAnswer) VisitGetConsoleResponse(w http.ResponseWriter) error      { return r.write(w) }
func (r assetAnswer) VisitGetConsoleAssetResponse(w http.ResponseWriter) error { return r.write(w) }
func (r assetAnswer) VisitGetDocsResponse(w http.ResponseWriter) error         { return r.write(w) }
func (r assetAnswer) VisitGetDocsAssetResponse(w http.ResponseWriter) error    { return r.write(w) }

// find is the named file's answer, or a 404.
func (s *assetSet) find(name string, ifNoneMatch, acceptEncoding *string) (assetAnswer, error) {
	a, ok := s.files[name]
	if !ok {
		return assetAnswer{}, newError(http.StatusNotFound, statusNotFound, "ASSET_NOT_FOUND", "no asset %q", name)
	}
	return a.answer(ifNoneMatch, acceptEncoding), nil
}

// pageCSP is the Content-Security-Policy of the pages (/console, /docs), where a credential lives in the tab: only
// the server's own scripts and styles run (no inline script, no eval), requests go to this server and the given
// origins only (the CORS origins and the console's other servers), and no other site may frame the page. Images
// may be data: URIs (Swagger UI's icons are). Media may be blob: URLs (the console plays a recording it fetched
// with the credential in a header). inlineStyles allows <style> elements: the console's editor
// (CodeMirror) writes its theme into them; scripts stay strict whatever it says.
func pageCSP(origins []string, inlineStyles bool) string {
	connect := []string{"'self'"}
	for _, o := range origins {
		if o == "*" || (!strings.ContainsAny(o, " ;,'") && strings.Contains(o, "://")) {
			if !slices.Contains(connect, o) {
				connect = append(connect, o)
			}
		}
	}
	style := "'self'"
	if inlineStyles {
		style += " 'unsafe-inline'"
	}
	return "default-src 'self'; script-src 'self'; style-src " + style + "; img-src 'self' data:; media-src 'self' blob:; connect-src " +
		strings.Join(connect, " ") + "; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
}
