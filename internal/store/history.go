package store

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// HistoryStore answers what a long-running server shows: one IP's history,
// the span of the stored traffic, and counts per period, service, sensor
// and organisation.
type HistoryStore interface {
	// IPHistory is everything stored about one source address: when and
	// where it probed, and the verdict of every identified window.
	IPHistory(ctx context.Context, ip netip.Addr) (IPHistory, error)
	// ProbeSpan is the time of the first and the last stored probe and
	// the number of probes (zero times: none).
	ProbeSpan(ctx context.Context) (first, last time.Time, n int, err error)
	// PeriodCounts counts probes and distinct source IPs per service in
	// consecutive periods of length from origin, oldest first.
	PeriodCounts(ctx context.Context, origin time.Time, length time.Duration) ([]PeriodCount, error)
	// SensorCounts counts probes per service and sensor.
	SensorCounts(ctx context.Context) ([]SensorCount, error)
	// WindowCounts counts the distinct IPs given to each organisation in
	// each identified window, oldest window first.
	WindowCounts(ctx context.Context) ([]WindowCount, error)
}

// IPHistory is one source address as the store knows it.
type IPHistory struct {
	IP        string    `json:"ip"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Probes    int       `json:"probes"`
	Ports     []int     `json:"ports"`
	Services  []string  `json:"services"`
	Sensors   []string  `json:"sensors"`
	// Verdicts are the stored attributions of the IP, oldest window first.
	Verdicts []Attribution `json:"verdicts"`
	// OrgChanges are the windows whose verdict names another organisation
	// than the window before.
	OrgChanges []OrgChange `json:"org_changes"`
}

// OrgChange is a verdict that differs from the one of the window before.
type OrgChange struct {
	At   time.Time `json:"at"` // start of the window of the new verdict
	From string    `json:"from"`
	To   string    `json:"to"`
}

// PeriodCount is one service's traffic in one period.
type PeriodCount struct {
	Start   time.Time `json:"start"`
	Service string    `json:"service"`
	Probes  int       `json:"probes"`
	IPs     int       `json:"ips"`
}

// SensorCount is the probes of one service seen by one sensor.
type SensorCount struct {
	Service string `json:"service"`
	Sensor  string `json:"sensor"`
	Probes  int    `json:"probes"`
}

// WindowCount is the IPs given to one organisation in one window.
type WindowCount struct {
	Org  string    `json:"org"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	IPs  int       `json:"ips"`
}

// IPHistory reads one address's probes summary and verdicts.
func (s *SQL) IPHistory(ctx context.Context, ip netip.Addr) (IPHistory, error) {
	h := IPHistory{IP: ip.String(), Ports: []int{}, Services: []string{}, Sensors: []string{}, Verdicts: []Attribution{}, OrgChanges: []OrgChange{}}
	rows, err := s.db.QueryContext(ctx, s.d.bind(`SELECT service, sensor, dst_port, COUNT(*), MIN(ts_ns), MAX(ts_ns) FROM probes
		WHERE src_ip = ? GROUP BY service, sensor, dst_port`), h.IP)
	if err != nil {
		return h, fmt.Errorf("store: history of %s: %w", ip, err)
	}
	var first, last int64
	for rows.Next() {
		var svc, sensor string
		var port, n int
		var lo, hi int64
		if err := rows.Scan(&svc, &sensor, &port, &n, &lo, &hi); err != nil {
			rows.Close()
			return h, err
		}
		h.Probes += n
		if first == 0 || lo < first {
			first = lo
		}
		last = max(last, hi)
		h.Ports = appendNew(h.Ports, port)
		h.Services = appendNew(h.Services, svc)
		if sensor != "" {
			h.Sensors = appendNew(h.Sensors, sensor)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return h, err
	}
	if h.Probes > 0 {
		h.FirstSeen, h.LastSeen = time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
	}
	slices.Sort(h.Ports)
	slices.Sort(h.Services)
	slices.Sort(h.Sensors)
	vrows, err := s.db.QueryContext(ctx, s.d.bind(`SELECT ip, org, probability, services, window_start, window_end, model_version
		FROM attributions WHERE ip = ? ORDER BY window_start, window_end`), h.IP)
	if err != nil {
		return h, fmt.Errorf("store: verdicts of %s: %w", ip, err)
	}
	defer vrows.Close()
	for vrows.Next() {
		a, err := scanAttribution(vrows)
		if err != nil {
			return h, err
		}
		if n := len(h.Verdicts); n > 0 && h.Verdicts[n-1].Org != a.Org {
			h.OrgChanges = append(h.OrgChanges, OrgChange{At: a.From, From: h.Verdicts[n-1].Org, To: a.Org})
		}
		h.Verdicts = append(h.Verdicts, a)
	}
	return h, vrows.Err()
}

func appendNew[T comparable](xs []T, x T) []T {
	if slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

type scanner interface{ Scan(dest ...any) error }

func scanAttribution(r scanner) (Attribution, error) {
	var a Attribution
	var svcs string
	var from, to int64
	if err := r.Scan(&a.IP, &a.Org, &a.Probability, &svcs, &from, &to, &a.ModelVersion); err != nil {
		return a, fmt.Errorf("store: scan attribution: %w", err)
	}
	if svcs != "" {
		a.Services = strings.Split(svcs, ",")
	}
	a.From, a.To = time.Unix(0, from).UTC(), time.Unix(0, to).UTC()
	return a, nil
}

// ProbeSpan reads the first and last probe times.
func (s *SQL) ProbeSpan(ctx context.Context) (time.Time, time.Time, int, error) {
	var lo, hi *int64
	var n int
	if err := s.db.QueryRowContext(ctx, s.d.bind(`SELECT MIN(ts_ns), MAX(ts_ns), COUNT(*) FROM probes`)).Scan(&lo, &hi, &n); err != nil {
		return time.Time{}, time.Time{}, 0, fmt.Errorf("store: probe span: %w", err)
	}
	if lo == nil || hi == nil {
		return time.Time{}, time.Time{}, 0, nil
	}
	return time.Unix(0, *lo).UTC(), time.Unix(0, *hi).UTC(), n, nil
}

// PeriodCounts groups probes by period index and service.
func (s *SQL) PeriodCounts(ctx context.Context, origin time.Time, length time.Duration) ([]PeriodCount, error) {
	if length <= 0 {
		return nil, fmt.Errorf("store: period length %v", length)
	}
	rows, err := s.db.QueryContext(ctx, s.d.bind(`SELECT (ts_ns - ?) / ?, service, COUNT(*), COUNT(DISTINCT src_ip) FROM probes
		WHERE ts_ns >= ? GROUP BY 1, 2 ORDER BY 1, 2`), origin.UnixNano(), int64(length), origin.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("store: period counts: %w", err)
	}
	defer rows.Close()
	var out []PeriodCount
	for rows.Next() {
		var c PeriodCount
		var k int64
		if err := rows.Scan(&k, &c.Service, &c.Probes, &c.IPs); err != nil {
			return nil, err
		}
		c.Start = origin.Add(time.Duration(k) * length).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

// SensorCounts groups probes by service and sensor.
func (s *SQL) SensorCounts(ctx context.Context) ([]SensorCount, error) {
	rows, err := s.db.QueryContext(ctx, s.d.bind(`SELECT service, sensor, COUNT(*) FROM probes GROUP BY service, sensor ORDER BY service, sensor`))
	if err != nil {
		return nil, fmt.Errorf("store: sensor counts: %w", err)
	}
	defer rows.Close()
	var out []SensorCount
	for rows.Next() {
		var c SensorCount
		if err := rows.Scan(&c.Service, &c.Sensor, &c.Probes); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// WindowCounts groups verdicts by window and organisation.
func (s *SQL) WindowCounts(ctx context.Context) ([]WindowCount, error) {
	rows, err := s.db.QueryContext(ctx, s.d.bind(`SELECT org, window_start, window_end, COUNT(DISTINCT ip) FROM attributions
		GROUP BY window_start, window_end, org ORDER BY window_start, window_end, org`))
	if err != nil {
		return nil, fmt.Errorf("store: window counts: %w", err)
	}
	defer rows.Close()
	var out []WindowCount
	for rows.Next() {
		var c WindowCount
		var from, to int64
		if err := rows.Scan(&c.Org, &from, &to, &c.IPs); err != nil {
			return nil, err
		}
		c.From, c.To = time.Unix(0, from).UTC(), time.Unix(0, to).UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}
