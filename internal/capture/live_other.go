//go:build !linux

package capture

import (
	"context"
	"errors"

	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// Live needs Linux's AF_PACKET sockets; elsewhere, pipe tcpdump into
// `scannergrouper ingest -`.
func Live(ctx context.Context, lopts LiveOptions, opts Options, emit func(probe.Probe) error) (LiveStats, error) {
	return LiveStats{}, errors.New("capture: live capture needs Linux (AF_PACKET); elsewhere use tcpdump -w - | scannergrouper ingest -")
}
