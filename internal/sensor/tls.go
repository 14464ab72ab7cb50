package sensor

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// serveTLS reads the raw ClientHello before crypto/tls sees a byte, so the
// stored probe (and its JA3/JA4) is exactly what the client sent; then it
// replays those bytes into a real handshake and answers the request inside
// as the HTTP listener does.
func (cs *session) serveTLS() {
	defer cs.release()
	p := cs.readFirst(cs.complete)
	if p == nil {
		return
	}
	switch p.Service {
	case "tls":
	case "http":
		// Plain HTTP to the TLS port: a 400, as web servers answer.
		cs.write(cs.s.httpAnswer(nil, false, cs.src.Addr()))
		return
	default:
		return
	}
	hello := append([]byte(nil), cs.buf...)
	cs.release()
	tc := tls.Server(&replayConn{Conn: cs.c, pending: hello}, cs.s.tlsConf)
	ctx, cancel := context.WithDeadline(context.Background(), cs.deadline)
	defer cancel()
	cs.c.SetWriteDeadline(cs.deadline)
	if err := tc.HandshakeContext(ctx); err != nil {
		cs.s.stats.handshakeFailed.Add(1)
		return
	}
	// The request inside is read like a plain one, but it is no first
	// probe: capture ingest sees it encrypted, so neither is it stored.
	inner := &session{s: cs.s, l: cs.l, c: tc, src: cs.src, dst: cs.dst, deadline: cs.deadline}
	defer inner.release()
	inner.readUntil(inner.complete)
	if len(inner.buf) == 0 || cs.s.isStopping() {
		return
	}
	req := probe.Probe{Payload: inner.buf, Transport: probe.TCP, DstPort: cs.dst.Port()}
	probe.Describe(&req)
	inner.write(cs.s.httpAnswer(req.Fields, req.Service == HTTP && req.ParseError == "", cs.src.Addr()))
	tc.CloseWrite()
}

// replayConn gives crypto/tls the bytes already read before the rest of
// the connection.
type replayConn struct {
	net.Conn
	pending []byte
}

func (r *replayConn) Read(b []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(b, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.Conn.Read(b)
}

// tlsConfig serves cfg.Certificate, or a self-signed one made now. Versions
// down to TLS 1.0 are accepted: scanners still offer them, and a sensor
// that refuses them learns less.
func tlsConfig(cfg Config) (*tls.Config, error) {
	cert := cfg.Certificate
	if cert == nil {
		c, err := SelfSigned(cfg.TLSHost, false)
		if err != nil {
			return nil, err
		}
		cert = &c
	}
	return &tls.Config{
		Certificates: []tls.Certificate{*cert},
		MinVersion:   tls.VersionTLS10,
		NextProtos:   []string{"http/1.1"},
	}, nil
}

// SelfSigned makes a self-signed certificate for host, valid from a day
// ago for a year: RSA-2048 as most servers have, or ECDSA P-256 (faster
// to make, for tests) when ecdsaKey is set.
func SelfSigned(host string, ecdsaKey bool) (tls.Certificate, error) {
	var key any
	var pub any
	if ecdsaKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("sensor: certificate key: %w", err)
		}
		key, pub = k, &k.PublicKey
	} else {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("sensor: certificate key: %w", err)
		}
		key, pub = k, &k.PublicKey
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("sensor: certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: host},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("sensor: self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
