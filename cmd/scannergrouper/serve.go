package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/app"
	"github.com/scannergrouper/scannergrouper/internal/ingest"
	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/server"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

// tokenEnv names the environment variable that can hold the API token.
const tokenEnv = "SCANNERGROUPER_TOKEN"

func init() {
	var (
		watch, replay, lists, stateDir, labels, listen, tokenFile string
		grace, listTTL                                            string
		speed, ratePerSec                                         float64
		poll                                                      time.Duration
		protectReads, noAnalyze                                   bool
		tf                                                        trainingFlags
	)
	serve := &cobra.Command{
		Use:   "serve (--watch DIR | --replay WORLD) [--listen ADDR] [--update-every 7d] [--lists DIR]",
		Short: "Run the weekly cycle by itself and answer lookups over an API and a dashboard",
		Long: `serve is the long-running process over the store. It ingests the capture files
that appear in --watch DIR (a file is complete when NAME.done appears beside it, or
when its size and modification time stay the same over two polls; names starting
with "." or ending in .part or .tmp are skipped, so writers may also write under
such a name and rename), and when a period of --update-every closes (plus --grace
for late files) it trains the incremental models on it (the first time: on every
period so far), identifies the period, stores the verdicts, regenerates the
per-organisation lists in --lists DIR and clusters the still-unknown scanners.

What is done is recorded in --state DIR (default: <db>.serve) after each step:
killed at any moment, serve starts again where it stopped; a period is trained
once.

--replay WORLD feeds a simulated world (scannergrouper simulate --out WORLD) day by
day on a clock --speed times faster than real time, importing WORLD/labels.csv.

The API listens on --listen (loopback by default): GET /v1/ip/{ip}, POST /v1/ip,
GET /v1/orgs, /v1/orgs/{org}/ips, /v1/stats, /v1/clusters, /metrics, /healthz,
and the dashboard at /. POST /v1/update and POST /v1/labels need the bearer token
of --token-file or $` + tokenEnv + ` (reads too with --protect-reads).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (watch == "") == (replay == "") {
				return usagef("give exactly one of --watch DIR or --replay WORLD")
			}
			graceD, err := parseDuration("grace", grace, true)
			if err != nil {
				return err
			}
			ttl, err := parseDuration("list-ttl", listTTL, false)
			if err != nil {
				return err
			}
			if replay != "" && speed <= 0 {
				return usagef("--speed must be > 0")
			}
			if poll < 100*time.Millisecond {
				return usagef("--poll must be at least 100ms")
			}
			token, err := readToken(tokenFile)
			if err != nil {
				return err
			}
			if protectReads && token == "" {
				return usagef("--protect-reads needs a token (--token-file or $%s)", tokenEnv)
			}
			opts, err := tf.options(cmd.Flags(), uint64(global.Seed))
			if err != nil {
				return err
			}
			period := opts.Period() // --update-every, validated by tf
			if stateDir == "" {
				stateDir = global.DB + ".serve"
			}
			now := time.Now
			if replay != "" {
				graceD = 0 // a replayed day is complete when fed
			}
			if replay != "" && labels == "" {
				if _, err := os.Stat(replay + "/labels.csv"); err == nil {
					labels = replay + "/labels.csv"
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := consoleFor(cmd).Logger()
			st, err := store.Open(ctx, global.DB)
			if err != nil {
				return err
			}
			defer st.Close()
			if labels != "" {
				// Imported now so the API's lookups see them; a file imported
				// again adds nothing.
				if _, err := app.LoadLabels(ctx, st, labels, log); err != nil {
					return err
				}
			}
			reader, err := store.OpenReader(ctx, global.DB, 4)
			if err != nil {
				return err
			}
			defer reader.Close()
			metrics := server.NewMetrics()
			var srv *server.Server
			cycle, err := app.OpenCycle(app.CycleConfig{Store: st, StateDir: stateDir, Lists: lists, Period: period, Grace: graceD,
				Opts: opts, Log: log, Analyze: !noAnalyze,
				OnModels: func(string) { srv.Invalidate() },
				OnIngest: func(r ingest.Result) {
					metrics.AddIngested(r.Stored)
					if r.Stored > 0 {
						srv.Forget()
					}
				},
				Observe: metrics.ObserveStep})
			if err != nil {
				return err
			}
			if replay != "" {
				// Lists expire in the world's time.
				now = func() time.Time { return cycle.State().Clock }
			}
			trigger := make(chan struct{}, 1)
			srv = server.New(server.Config{Store: reader, Models: cycle.ModelsDir, ListTTL: ttl, Period: period,
				Origin: func() time.Time { return cycle.State().Origin }, Token: token, ProtectReads: protectReads,
				Now: func() time.Time { return now() }, Rate: ratePerSec, Analysis: cycle.AnalysisDir(), Status: cycle.State, Log: log, Metrics: metrics,
				Trigger: func() error {
					if replay != "" {
						return errors.New("a replay runs on its own clock")
					}
					select {
					case trigger <- struct{}{}:
					default: // one is already pending
					}
					return nil
				},
				ImportLabels: func(ctx context.Context, r io.Reader, name string) (any, error) {
					ldb, err := label.Open(ctx, st, nil)
					if err != nil {
						return nil, err
					}
					return ldb.Import(ctx, r, name, label.ImportOptions{})
				}})
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			hs := srv.HTTPServer(listen)
			httpErr := make(chan error, 1)
			go func() { httpErr <- hs.Serve(ln) }()
			log.Info("serving", "listen", ln.Addr().String(), "state", stateDir, "update_every", app.FormatPeriod(period))
			cycleErr := make(chan error, 1)
			go func() {
				if replay != "" {
					_, days, err := app.ReplayFiles(replay)
					if err == nil {
						err = cycle.Replay(ctx, replay, app.NewScaledClock(days[0], speed))
					}
					if err == nil {
						log.Info("replay finished; still serving", "models", cycle.ModelsDir())
					}
					cycleErr <- err
					return
				}
				cycleErr <- watchLoop(ctx, cycle, watch, poll, trigger, log)
			}()
			var runErr error
			select {
			case <-ctx.Done():
			case runErr = <-httpErr:
			case runErr = <-cycleErr:
				if runErr == nil {
					select {
					case <-ctx.Done():
					case runErr = <-httpErr:
					}
				}
			}
			stop()
			shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			hs.Shutdown(shut)
			if errors.Is(runErr, context.Canceled) || errors.Is(runErr, http.ErrServerClosed) {
				runErr = nil
			}
			log.Info("stopped")
			return runErr
		},
	}
	f := serve.Flags()
	f.StringVar(&watch, "watch", "", "folder where capture files appear")
	f.StringVar(&replay, "replay", "", "simulated world to feed day by day (scannergrouper simulate --out)")
	f.Float64Var(&speed, "speed", 86400, "replay: simulated seconds per real second")
	f.StringVar(&grace, "grace", "2h", "how long after a period's end its last capture files may still arrive")
	f.DurationVar(&poll, "poll", 10*time.Second, "how often --watch is scanned")
	f.StringVar(&lists, "lists", "", "folder of the per-organisation lists, regenerated after each update")
	f.StringVar(&stateDir, "state", "", "folder of the cycle's state and models (default: <db>.serve)")
	f.StringVar(&labels, "labels", "", "label file to import at start")
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address of the API and dashboard")
	f.StringVar(&listTTL, "list-ttl", "30d", "an IP leaves an organisation's list this long after it was last attributed")
	f.StringVar(&tokenFile, "token-file", "", "file holding the API's bearer token (or $"+tokenEnv+")")
	f.BoolVar(&protectReads, "protect-reads", false, "require the token on read endpoints too")
	f.Float64Var(&ratePerSec, "rate", 100, "requests per second allowed to one client address (0: unlimited)")
	f.BoolVar(&noAnalyze, "no-analyze", false, "skip clustering the still-unknown scanners after each update")
	tf.register(f) // --update-every among them
	rootCmd.AddCommand(serve)
}

// watchLoop polls the folder and steps the cycle every poll, or at once
// when an update is requested. Errors (a store locked by another process,
// a full disk) are logged and retried at the next poll: nothing is lost.
func watchLoop(ctx context.Context, c *app.Cycle, dir string, poll time.Duration, trigger <-chan struct{}, log interface {
	Warn(string, ...any)
}) error {
	w := app.NewWatcher(dir)
	for {
		if _, err := c.Poll(ctx, w); err != nil && ctx.Err() == nil {
			log.Warn("ingest failed; retrying", "error", err.Error())
		}
		if _, err := c.Step(ctx, time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("update failed; retrying", "error", err.Error())
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-trigger:
			t.Stop()
		case <-t.C:
		}
	}
}

// parseDuration reads days ("30d") or a Go duration ("2h").
func parseDuration(name, v string, zeroOK bool) (time.Duration, error) {
	if zeroOK && (v == "0" || v == "") {
		return 0, nil
	}
	d, err := parseWindow(v)
	if err != nil || d <= 0 {
		return 0, usagef("--%s %q: want a number of days (30d) or a duration (2h)", name, v)
	}
	return d, nil
}

// readToken reads the API token from a file, or the environment.
func readToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(tokenEnv)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", usagef("--token-file %s is empty", file)
	}
	return tok, nil
}
