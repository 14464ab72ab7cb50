package server

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
)

// assets are the dashboard: one page, a script and a style sheet, served
// from the binary (nothing is fetched from elsewhere).
//
//go:embed assets
var assets embed.FS

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	s.serveAsset(w, r, "index.html")
}

func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	s.serveAsset(w, r, r.PathValue("name"))
}

func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	if name != path.Base(name) {
		fail(w, http.StatusNotFound, "no such asset")
		return
	}
	b, err := fs.ReadFile(assets, "assets/"+name)
	if err != nil {
		fail(w, http.StatusNotFound, "no such asset")
		return
	}
	ct := map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}[path.Ext(name)]
	if ct == "" {
		ct = http.DetectContentType(b)
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'")
	w.Write(b)
}
