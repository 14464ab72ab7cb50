package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Metrics are what GET /metrics exposes: probes per service and sensor and
// attributions per organisation (read from the store at each scrape), the
// cycle's step durations, API latency, lookup cache use, and the Go
// runtime.
type Metrics struct {
	reg    *prometheus.Registry
	update *prometheus.HistogramVec
	api    *prometheus.HistogramVec
	cache  *prometheus.CounterVec
	// cacheHit and cacheMiss are cache's two counters, resolved once.
	cacheHit, cacheMiss prometheus.Counter
	ingested            prometheus.Counter
	store               store.Store
}

// NewMetrics builds the registry.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.update = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "scannergrouper_update_duration_seconds", Help: "Duration of the cycle's steps (train: incremental update; identify: identification and lists; analyze: clustering the still-unknown scanners).",
		Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600},
	}, []string{"step"})
	m.api = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "scannergrouper_api_request_duration_seconds", Help: "API latency by route and status code.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5},
	}, []string{"route", "code"})
	m.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scannergrouper_lookup_cache_total", Help: "IP lookups answered from the in-memory cache (hit) or computed (miss).",
	}, []string{"result"})
	m.cacheHit, m.cacheMiss = m.cache.WithLabelValues("hit"), m.cache.WithLabelValues("miss")
	m.ingested = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "scannergrouper_ingested_probes_total", Help: "First probes newly stored by this process.",
	})
	m.reg.MustRegister(m.update, m.api, m.cache, m.ingested, storeCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveStep records one cycle step's duration.
func (m *Metrics) ObserveStep(step string, d time.Duration) {
	m.update.WithLabelValues(step).Observe(d.Seconds())
}

// AddIngested counts newly stored probes.
func (m *Metrics) AddIngested(n int64) { m.ingested.Add(float64(n)) }

func (m *Metrics) observeAPI(route string, code int, d time.Duration) {
	m.api.WithLabelValues(route, strconv.Itoa(code)).Observe(d.Seconds())
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}

var (
	probesDesc = prometheus.NewDesc("scannergrouper_probes", "Stored first probes per service and sensor.", []string{"service", "sensor"}, nil)
	attsDesc   = prometheus.NewDesc("scannergrouper_attributions", "Scanner IPs attributed to each organisation in the latest identified window.", []string{"org"}, nil)
)

// storeCollector reads the store's counts at scrape time.
type storeCollector struct{ m *Metrics }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- probesDesc
	ch <- attsDesc
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.m.store
	if st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if counts, err := st.SensorCounts(ctx); err == nil {
		for _, sc := range counts {
			ch <- prometheus.MustNewConstMetric(probesDesc, prometheus.GaugeValue, float64(sc.Probes), sc.Service, sc.Sensor)
		}
	} else {
		ch <- prometheus.NewInvalidMetric(probesDesc, err)
	}
	wins, err := st.WindowCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(attsDesc, err)
		return
	}
	if len(wins) == 0 {
		return
	}
	last := wins[len(wins)-1]
	for _, w := range wins {
		if w.From.Equal(last.From) && w.To.Equal(last.To) {
			ch <- prometheus.MustNewConstMetric(attsDesc, prometheus.GaugeValue, float64(w.IPs), w.Org)
		}
	}
}
