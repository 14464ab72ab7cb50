package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/scannergrouper/scannergrouper/internal/label"
	"github.com/scannergrouper/scannergrouper/internal/sensor"
	_ "github.com/scannergrouper/scannergrouper/internal/service/all"
	"github.com/scannergrouper/scannergrouper/internal/store"
)

func init() {
	var (
		listens          []string
		cfg              sensor.Config
		keyFile          string
		noTags           bool
		certFile, keyPEM string
		dnsA             string
		runAs            string
	)
	cmd := &cobra.Command{
		Use:   "sensor --listen SERVICE=ADDR:PORT... [flags]",
		Short: "Run a low-interaction honeypot (HTTP, TLS, DNS, SSH, RDP) that stores first probes",
		Long: `sensor listens for scanners and stores the first probe of every connection (every
DNS datagram) exactly as 'ingest' stores it from a capture: same service, fields and
idempotency, with --sensor as the sensor name. Each client gets a minimal answer:

  http  a small page with the --server header and a Set-Cookie carrying a cookie tag
        ('labels tag'; recorded as given to the client's address for 'labels import-tags')
  tls   a real handshake with a self-signed certificate (or --tls-cert/--tls-key), then
        the HTTP answer inside; the ClientHello is stored as the client sent it
  dns   UDP and TCP on the same port: an A record (--dns-a), version.bind TXT CHAOS,
        REFUSED for the rest
  ssh   an identification string (--ssh-ident) and a KEXINIT after the client's
  rdp   an X.224 Connection Confirm with RDP_NEG_RSP

Connections are bounded in total (--max-conns), per source address (--max-conns-per-ip)
and in rate per source address (--rate-per-ip); each first message gets --read-timeout
and at most 16 KiB. Refusals, timeouts, garbage and cut messages are counted and
logged one line per cause (--report-every). SIGINT or SIGTERM stops the sensor; what
it received until then is stored before it exits.

Ports below 1024 need root or CAP_NET_BIND_SERVICE: as root, --user NAME drops to
that user after the ports are bound and before the store is opened.
See docs/sensor.md.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(listens) == 0 {
				return usagef("name at least one --listen SERVICE=ADDR:PORT (services: http, tls, dns, ssh, rdp)")
			}
			for _, l := range listens {
				ln, err := sensor.ParseListen(l)
				if err != nil {
					return usagef("%s", userMessage(err))
				}
				cfg.Listen = append(cfg.Listen, ln)
			}
			if dnsA != "" {
				a, err := netip.ParseAddr(dnsA)
				if err != nil || !a.Is4() {
					return usagef("--dns-a %q is not an IPv4 address", dnsA)
				}
				cfg.DNSAnswer = a
			}
			if !noTags {
				key, err := label.LoadTagKey(keyFile, os.Getenv)
				if err != nil {
					return usagef("%v (or pass --no-tags to answer HTTP without cookie tags)", err)
				}
				cfg.Tagger = label.NewTagger(key, cfg.Sensor)
			}
			if (certFile == "") != (keyPEM == "") {
				return usagef("--tls-cert and --tls-key go together")
			}
			if certFile != "" {
				cert, err := tls.LoadX509KeyPair(certFile, keyPEM)
				if err != nil {
					return err
				}
				cfg.Certificate = &cert
			}
			con := consoleFor(cmd)
			cfg.Logger = con.Logger()
			s, err := sensor.New(cfg)
			if err != nil {
				return err
			}
			if err := s.Bind(); err != nil {
				return err
			}
			if runAs != "" {
				if err := sensor.DropPrivileges(runAs); err != nil {
					return err
				}
				con.Logger().Info("sensor: privileges dropped", "user", runAs, "uid", os.Getuid(), "gid", os.Getgid())
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			st, err := store.Open(ctx, global.DB)
			if err != nil {
				return err
			}
			defer st.Close()
			start := time.Now()
			runErr := s.Run(ctx, st)
			stats := s.Stats()
			if global.JSON {
				if err := json.NewEncoder(cmd.OutOrStdout()).Encode(stats); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "sensor %q ran %s: %d connections, %d datagrams, %d first probes (%d newly stored), %d cookie tags\n",
					cfg.Sensor, time.Since(start).Round(time.Second), stats.Accepted, stats.Datagrams, stats.Probes, stats.Stored, stats.Tags)
			}
			return runErr
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&listens, "listen", nil, "listener SERVICE=ADDR:PORT (repeatable; services http, tls, dns, ssh, rdp; port 0 picks one)")
	fl.StringVar(&cfg.Sensor, "sensor", "", "sensor name stored with each probe and carried in each cookie tag")
	fl.DurationVar(&cfg.ReadTimeout, "read-timeout", sensor.DefaultReadTimeout, "time a client gets to send its whole first message")
	fl.DurationVar(&cfg.WriteTimeout, "write-timeout", sensor.DefaultWriteTimeout, "time an answer may take to write")
	fl.IntVar(&cfg.MaxConns, "max-conns", sensor.DefaultMaxConns, "concurrent TCP connections")
	fl.IntVar(&cfg.MaxConnsPerIP, "max-conns-per-ip", sensor.DefaultMaxConnsPerIP, "concurrent TCP connections of one source address")
	fl.Float64Var(&cfg.RatePerIP, "rate-per-ip", sensor.DefaultRatePerIP, "new connections and datagrams per second of one source address (negative: no limit)")
	fl.IntVar(&cfg.BurstPerIP, "burst-per-ip", sensor.DefaultBurstPerIP, "burst allowed above --rate-per-ip")
	fl.IntVar(&cfg.MaxTrackedIPs, "max-tracked-ips", sensor.DefaultMaxTrackedIPs, "bound on the per-address table of the limits")
	fl.StringVar(&keyFile, "key-file", "", "cookie-tag key file (hex, base64 or raw; default: $"+label.TagKeyEnv+")")
	fl.BoolVar(&noTags, "no-tags", false, "answer HTTP without cookie tags (no key needed)")
	fl.StringVar(&cfg.CookieName, "cookie-name", sensor.DefaultCookieName, "name of the cookie carrying the tag")
	fl.StringVar(&cfg.ServerHeader, "server", sensor.DefaultServerHeader, "Server header of HTTP answers")
	fl.StringVar(&certFile, "tls-cert", "", "PEM certificate (chain) for TLS listeners (default: self-signed at start)")
	fl.StringVar(&keyPEM, "tls-key", "", "PEM private key of --tls-cert")
	fl.StringVar(&cfg.TLSHost, "tls-host", sensor.DefaultTLSHost, "name in the self-signed certificate")
	fl.StringVar(&cfg.SSHIdent, "ssh-ident", sensor.DefaultSSHIdent, "SSH server identification string")
	fl.StringVar(&dnsA, "dns-a", sensor.DefaultDNSAnswer.String(), "IPv4 address of every DNS A answer")
	fl.StringVar(&cfg.DNSVersion, "dns-version", sensor.DefaultDNSVersion, "version.bind TXT answer")
	fl.StringVar(&runAs, "user", "", "after binding, run as this user (needs root)")
	fl.DurationVar(&cfg.ReportEvery, "report-every", time.Minute, "log one line per cause whose counter moved this often (negative: only at exit)")
	rootCmd.AddCommand(cmd)
}
