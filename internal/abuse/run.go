package abuse

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/store"
)

// Plan splits ips into those the store holds a check of at most maxAge old
// (fresh: not checked again) and the rest (stale or never checked), in
// address order, without duplicates. Addresses that are not public
// (private, loopback, link-local, multicast, unspecified) go to private:
// the API rejects them, so they cost no check.
func Plan(stored []Check, ips []netip.Addr, maxAge time.Duration, now time.Time) (stale []netip.Addr, fresh, private int) {
	checked := make(map[string]time.Time, len(stored))
	for _, c := range stored {
		checked[c.IP] = c.CheckedAt
	}
	seen := map[netip.Addr]bool{}
	for _, ip := range ips {
		ip = ip.Unmap()
		if seen[ip] {
			continue
		}
		seen[ip] = true
		if !Public(ip) {
			private++
			continue
		}
		if t, ok := checked[ip.String()]; ok && now.Sub(t) <= maxAge {
			fresh++
			continue
		}
		stale = append(stale, ip)
	}
	slices.SortFunc(stale, func(a, b netip.Addr) int { return a.Compare(b) })
	return stale, fresh, private
}

// Public reports whether ip is an address the API checks.
func Public(ip netip.Addr) bool {
	return ip.IsValid() && ip.IsGlobalUnicast() && !ip.IsPrivate()
}

// RunReport says what a run did.
type RunReport struct {
	Wanted   int      `json:"wanted"`   // distinct IPs asked for
	Fresh    int      `json:"fresh"`    // checked within max-age: kept
	Private  int      `json:"private"`  // not public: not checked
	Checked  int      `json:"checked"`  // checked now and stored
	Rejected []string `json:"rejected"` // the API refused these (message each)
	Failed   []string `json:"failed"`   // failed after retries (message each)
	Left     int      `json:"left"`     // stale IPs not reached: a rerun checks them
	Stopped  string   `json:"stopped,omitempty"`
}

// maxFailuresInRow stops a run whose checks keep failing (the network is
// gone), instead of spending the run on timeouts.
const maxFailuresInRow = 5

// Run checks every stale IP of ips (Plan) and stores each check as soon as
// it arrives, so whatever stops the run (a wrong key, the quota, a
// cancelled context) keeps what was checked and a rerun continues with the
// rest. A rejected IP or a failed check is reported and the run goes on;
// progress, when set, is called after each IP.
func Run(ctx context.Context, c *Client, st store.AbuseStore, ips []netip.Addr, maxAge time.Duration, progress func(done, total int)) (RunReport, error) {
	stored, err := st.AbuseChecks(ctx)
	if err != nil {
		return RunReport{}, err
	}
	stale, fresh, private := Plan(stored, ips, maxAge, c.opts.Clock.Now())
	rep := RunReport{Wanted: len(stale) + fresh + private, Fresh: fresh, Private: private, Rejected: []string{}, Failed: []string{}}
	inRow := 0
	for i, ip := range stale {
		chk, err := c.Check(ctx, ip)
		switch {
		case err == nil:
			if err := st.PutAbuseChecks(ctx, []Check{chk}); err != nil {
				rep.Left = len(stale) - i
				return rep, err
			}
			rep.Checked++
			inRow = 0
		case errors.Is(err, ErrRejected):
			rep.Rejected = append(rep.Rejected, errMessage(err))
		case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrQuota), ctx.Err() != nil:
			rep.Left = len(stale) - i
			rep.Stopped = errMessage(err)
			return rep, err
		default:
			rep.Failed = append(rep.Failed, errMessage(err))
			if inRow++; inRow >= maxFailuresInRow {
				rep.Left = len(stale) - i - 1
				rep.Stopped = fmt.Sprintf("%d checks in a row failed, the last: %s", inRow, errMessage(err))
				return rep, fmt.Errorf("abuse: %s", rep.Stopped)
			}
		}
		if progress != nil {
			progress(i+1, len(stale))
		}
	}
	return rep, nil
}

func errMessage(err error) string { return strings.TrimPrefix(err.Error(), "abuse: ") }
