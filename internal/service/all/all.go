// Package all registers every compiled-in service. Adding a protocol means
// adding its folder under internal/service and one line here; importing this
// package for its side effect is how commands get the full set.
package all

import (
	"github.com/scannergrouper/scannergrouper/internal/probe"
	"github.com/scannergrouper/scannergrouper/internal/service/dns"
	"github.com/scannergrouper/scannergrouper/internal/service/http"
	"github.com/scannergrouper/scannergrouper/internal/service/rdp"
	"github.com/scannergrouper/scannergrouper/internal/service/ssh"
	"github.com/scannergrouper/scannergrouper/internal/service/tls"
)

func init() {
	probe.Register(http.New())
	probe.Register(tls.New())
	probe.Register(dns.New())
	probe.Register(ssh.New())
	probe.Register(rdp.New())
}
