package server

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// OrgSummary is one organisation in GET /v1/orgs.
type OrgSummary struct {
	Org string `json:"org"`
	// IPs is the distinct IPs ever attributed to the org; Listed those
	// still on its published list (not expired).
	IPs    int          `json:"ips"`
	Listed int          `json:"listed"`
	Trend  []TrendPoint `json:"trend"`
}

// TrendPoint is the IPs given to an organisation in one identified window.
type TrendPoint struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	IPs  int       `json:"ips"`
}

// OrgsResponse is GET /v1/orgs.
type OrgsResponse struct {
	Windows []TrendWindow `json:"windows"`
	Orgs    []OrgSummary  `json:"orgs"`
}

// TrendWindow is one identified window.
type TrendWindow struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ListEntry is one IP of an organisation's published list.
type ListEntry struct {
	IP         string    `json:"ip"`
	Org        string    `json:"org"`
	FirstSeen  time.Time `json:"first_seen"` // start of the first window naming the org
	LastSeen   time.Time `json:"last_seen"`  // end of the last one
	Confidence float64   `json:"confidence"` // the last window's probability
	Expires    time.Time `json:"expires"`    // last_seen + --list-ttl
	Windows    int       `json:"windows"`
	Services   []string  `json:"services"`
}

// orgLists folds stored verdicts into list entries per org.
func orgLists(atts []store.Attribution, ttl time.Duration) map[string]map[string]*ListEntry {
	out := map[string]map[string]*ListEntry{}
	for _, a := range atts {
		m := out[a.Org]
		if m == nil {
			m = map[string]*ListEntry{}
			out[a.Org] = m
		}
		e := m[a.IP]
		if e == nil {
			e = &ListEntry{IP: a.IP, Org: a.Org, FirstSeen: a.From, Services: []string{}}
			m[a.IP] = e
		}
		if a.From.Before(e.FirstSeen) {
			e.FirstSeen = a.From
		}
		if !a.To.Before(e.LastSeen) {
			e.LastSeen, e.Confidence = a.To, a.Probability
		}
		e.Windows++
		for _, sv := range a.Services {
			if !slices.Contains(e.Services, sv) {
				e.Services = append(e.Services, sv)
			}
		}
		e.Expires = e.LastSeen.Add(ttl)
	}
	return out
}

func (s *Server) orgs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	counts, err := s.cfg.Store.WindowCounts(ctx)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	atts, err := s.cfg.Store.Attributions(ctx, "")
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	lists := orgLists(atts, s.cfg.ListTTL)
	now := s.cfg.Now()
	resp := OrgsResponse{Windows: []TrendWindow{}, Orgs: []OrgSummary{}}
	byOrg := map[string]*OrgSummary{}
	for _, c := range counts {
		if n := len(resp.Windows); n == 0 || !resp.Windows[n-1].From.Equal(c.From) || !resp.Windows[n-1].To.Equal(c.To) {
			resp.Windows = append(resp.Windows, TrendWindow{From: c.From, To: c.To})
		}
		o := byOrg[c.Org]
		if o == nil {
			o = &OrgSummary{Org: c.Org, Trend: []TrendPoint{}}
			byOrg[c.Org] = o
		}
		o.Trend = append(o.Trend, TrendPoint{From: c.From, To: c.To, IPs: c.IPs})
	}
	for _, name := range slices.Sorted(maps.Keys(byOrg)) {
		o := byOrg[name]
		o.IPs = len(lists[name])
		for _, e := range lists[name] {
			if e.Expires.After(now) {
				o.Listed++
			}
		}
		resp.Orgs = append(resp.Orgs, *o)
	}
	slices.SortStableFunc(resp.Orgs, func(a, b OrgSummary) int { return cmp.Compare(b.IPs, a.IPs) })
	writeJSON(w, resp)
}

// knownOrg reports whether name is an organisation the registry knows or
// the stored verdicts name; canonical is its canonical name.
func knownOrg(name string, stored map[string]map[string]*ListEntry) (string, bool) {
	if name == label.Unknown {
		return name, true
	}
	c := label.Canonical(name)
	if _, ok := label.DefaultRegistry().Org(c); ok {
		return c, true
	}
	_, ok := stored[c]
	return c, ok
}

func (s *Server) orgIPs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := cmp.Or(q.Get("format"), "json")
	if format != "json" && format != "csv" && format != "txt" {
		fail(w, http.StatusBadRequest, "format %q: want txt, csv or json", format)
		return
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := parseTime(v)
		if err != nil {
			fail(w, http.StatusBadRequest, "since %q: want RFC 3339 or YYYY-MM-DD", v)
			return
		}
		since = t
	}
	name := r.PathValue("org")
	if len(name) > 100 {
		fail(w, http.StatusBadRequest, "organisation name too long")
		return
	}
	atts, err := s.cfg.Store.Attributions(r.Context(), "")
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	lists := orgLists(atts, s.cfg.ListTTL)
	org, ok := knownOrg(name, lists)
	if !ok {
		fail(w, http.StatusNotFound, "no such organisation: %q (GET /v1/orgs lists those with verdicts)", name)
		return
	}
	now := s.cfg.Now()
	entries := []ListEntry{}
	for _, e := range lists[org] {
		if e.Expires.After(now) && !e.LastSeen.Before(since) {
			entries = append(entries, *e)
		}
	}
	slices.SortFunc(entries, func(a, b ListEntry) int { return strings.Compare(a.IP, b.IP) })
	switch format {
	case "txt":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "# %s scanner IPs attributed by scannergrouper, valid until %s after last seen\n", org, app.FormatPeriod(s.cfg.ListTTL))
		for _, e := range entries {
			fmt.Fprintln(w, e.IP)
		}
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		cw := csv.NewWriter(w)
		cw.Write([]string{"ip", "org", "first_seen", "last_seen", "confidence", "expires", "windows", "services"})
		for _, e := range entries {
			cw.Write([]string{e.IP, e.Org, e.FirstSeen.Format(time.RFC3339), e.LastSeen.Format(time.RFC3339),
				strconv.FormatFloat(e.Confidence, 'f', 4, 64), e.Expires.Format(time.RFC3339), strconv.Itoa(e.Windows), strings.Join(e.Services, "+")})
		}
		cw.Flush()
	default:
		writeJSON(w, entries)
	}
}

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Parse("2006-01-02", v)
}

// Stats is GET /v1/stats.
type Stats struct {
	FirstProbe      *time.Time           `json:"first_probe"`
	LastProbe       *time.Time           `json:"last_probe"`
	Probes          int                  `json:"probes"`
	Services        []store.ServiceCount `json:"services"`
	Sensors         []store.SensorCount  `json:"sensors"`
	Periods         []store.PeriodCount  `json:"periods"` // weekly volume per service
	Period          string               `json:"period"`
	ModelVersion    string               `json:"model_version,omitempty"`
	TrainedPeriods  int                  `json:"trained_periods"`
	IdentifiedUntil *time.Time           `json:"identified_until"`
	FilesIngested   int                  `json:"files_ingested"`
	FilesRejected   int                  `json:"files_rejected"`
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	first, last, n, err := s.cfg.Store.ProbeSpan(ctx)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	st := Stats{Probes: n, Period: app.FormatPeriod(s.cfg.Period), Services: []store.ServiceCount{}, Sensors: []store.SensorCount{}, Periods: []store.PeriodCount{}}
	if n > 0 {
		st.FirstProbe, st.LastProbe = &first, &last
	}
	if st.Services, err = s.cfg.Store.ServiceCounts(ctx, store.ProbeQuery{}); err != nil {
		s.storeError(w, r, err)
		return
	}
	if st.Sensors, err = s.cfg.Store.SensorCounts(ctx); err != nil {
		s.storeError(w, r, err)
		return
	}
	origin := first.Truncate(24 * time.Hour)
	if s.cfg.Origin != nil && !s.cfg.Origin().IsZero() {
		origin = s.cfg.Origin()
	}
	if n > 0 {
		if st.Periods, err = s.cfg.Store.PeriodCounts(ctx, origin, s.cfg.Period); err != nil {
			s.storeError(w, r, err)
			return
		}
	}
	if s.cfg.Status != nil {
		cs := s.cfg.Status()
		st.TrainedPeriods = len(cs.Trained)
		if !cs.IdentifiedUntil.IsZero() {
			st.IdentifiedUntil = &cs.IdentifiedUntil
		}
		for _, f := range cs.Files {
			if f.Error != "" {
				st.FilesRejected++
			} else {
				st.FilesIngested++
			}
		}
	}
	if lk, _, err := s.current(ctx); err == nil {
		st.ModelVersion = lk.Version
	}
	st.Services, st.Sensors, st.Periods = nonNil(st.Services), nonNil(st.Sensors), nonNil(st.Periods)
	writeJSON(w, st)
}

// clusters serves the latest still-unknown analysis (clusters.json of
// `analyze`), or an empty report before the first one.
func (s *Server) clusters(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Analysis == "" {
		writeJSON(w, map[string]any{"services": []any{}, "note": "no analysis folder configured"})
		return
	}
	b, err := os.ReadFile(filepath.Join(s.cfg.Analysis, "clusters.json"))
	if errors.Is(err, os.ErrNotExist) {
		writeJSON(w, map[string]any{"services": []any{}, "note": "no period analysed yet"})
		return
	}
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if !json.Valid(b) {
		fail(w, http.StatusInternalServerError, "clusters.json is damaged")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// clusterFigure serves one PNG or SVG figure of the analysis by base name.
func (s *Server) clusterFigure(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.cfg.Analysis == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") ||
		!(strings.HasSuffix(name, ".png") || strings.HasSuffix(name, ".svg")) {
		fail(w, http.StatusNotFound, "no such figure")
		return
	}
	f, err := os.Open(filepath.Join(s.cfg.Analysis, name))
	if err != nil {
		fail(w, http.StatusNotFound, "no such figure")
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		fail(w, http.StatusNotFound, "no such figure")
		return
	}
	http.ServeContent(w, r, name, info.ModTime(), f)
}

func (s *Server) importLabels(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ImportLabels == nil {
		fail(w, http.StatusServiceUnavailable, "label import is not available in this process")
		return
	}
	if r.ContentLength > MaxLabelBody {
		fail(w, http.StatusRequestEntityTooLarge, "body of %d bytes: at most %d", r.ContentLength, MaxLabelBody)
		return
	}
	name := cmp.Or(filepath.Base(r.URL.Query().Get("name")), "upload.csv")
	rep, err := s.cfg.ImportLabels(r.Context(), http.MaxBytesReader(w, r.Body, MaxLabelBody), name)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			fail(w, http.StatusRequestEntityTooLarge, "body over %d bytes", MaxLabelBody)
		case busy(err):
			s.storeError(w, r, err)
		default:
			fail(w, http.StatusBadRequest, "labels: %v", err)
		}
		return
	}
	s.Invalidate()
	writeJSON(w, rep)
}

// nonNil makes an empty slice encode as [] rather than null.
func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
