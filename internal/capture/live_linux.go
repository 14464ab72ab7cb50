//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/scannergrouper/scannergrouper/internal/pcapfilter"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// ErrNoCapturePermission is returned when the process may not open a packet
// socket: live capture needs root or CAP_NET_RAW.
var ErrNoCapturePermission = errors.New("opening a packet socket needs CAP_NET_RAW (run as root, or: setcap cap_net_raw+ep $(command -v scannergrouper))")

// snapLen is what the kernel filter keeps of a matching frame: a whole
// loopback frame (64 KiB MTU with offloads), so no first message is cut
// below probe.MaxPayload.
const snapLen = 262144

// Live reads the interface lopts names through an AF_PACKET memory-mapped
// ring (TPACKET_V3, pure Go: no libpcap, no cgo), follows sessions as
// Extract does and calls emit with each first probe. It runs until ctx is
// done and then emits every first probe still being collected, so nothing
// received is lost; a cancelled ctx is a normal end (nil error).
func Live(ctx context.Context, lopts LiveOptions, opts Options, emit func(probe.Probe) error) (LiveStats, error) {
	lopts = lopts.withDefaults()
	opts = opts.withDefaults()
	var ls LiveStats
	name := lopts.Interface
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return ls, fmt.Errorf("capture: interface %q: %w", name, err)
	}
	link, plink, err := interfaceLink(name)
	if err != nil {
		return ls, err
	}
	var user []bpf.RawInstruction
	if strings.TrimSpace(lopts.Filter) != "" {
		if user, err = pcapfilter.Program(lopts.Filter, plink, snapLen); err != nil {
			return ls, err
		}
	}
	kernel := user
	if ifc.Flags&net.FlagLoopback != 0 {
		// Linux shows every loopback packet twice, leaving and arriving;
		// keep one copy, as libpcap does.
		kernel = dropOutgoing(user)
	}

	const blockSize = 1 << 20
	blocks := max(lopts.RingBytes/blockSize, 4)
	tp, err := afpacket.NewTPacket(afpacket.OptInterface(name), afpacket.OptFrameSize(1<<16),
		afpacket.OptBlockSize(blockSize), afpacket.OptNumBlocks(blocks),
		afpacket.OptPollTimeout(100*time.Millisecond), afpacket.OptBlockTimeout(10*time.Millisecond))
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return ls, fmt.Errorf("capture: interface %q: %w", name, ErrNoCapturePermission)
		}
		return ls, fmt.Errorf("capture: interface %q: %w", name, err)
	}
	defer tp.Close()
	if len(kernel) > 0 {
		if err := tp.SetBPF(kernel); err != nil {
			return ls, fmt.Errorf("capture: interface %q: attaching the BPF filter: %w", name, err)
		}
	}
	// Frames that reached the ring between opening the socket and attaching
	// the filter did not go through it: run the filter here on those.
	attached := time.Now()
	var vm *bpf.VM
	if len(user) > 0 {
		ins, _ := bpf.Disassemble(user)
		if vm, err = bpf.NewVM(ins); err != nil {
			vm = nil // uses kernel-only extensions; the kernel filter still applies
		}
	}

	dec, err := newDecoder(link)
	if err != nil {
		return ls, err
	}
	t := newTracker(opts, &ls.Stats, emit)
	t.file = LiveSourceName(name)
	ls.Files = 1
	lastTick := time.Now()
	tick := func(now time.Time) error {
		if err := t.evict(now); err != nil {
			return err
		}
		n, err := t.finishIdle(now, lopts.FlushIdle)
		ls.IdleFlushed += n
		if err != nil {
			return err
		}
		if s, s3, err := tp.SocketStats(); err == nil {
			ls.KernelDrops = int64(s.Drops() + s3.Drops())
		}
		t.usage(&ls)
		if lopts.Tick != nil {
			return lopts.Tick(ls)
		}
		return nil
	}
	var pkt packet
	for ctx.Err() == nil {
		data, ci, err := tp.ZeroCopyReadPacketData()
		switch {
		case err == nil:
			ls.Frames++
			if vm != nil && !ci.Timestamp.After(attached) {
				if n, verr := vm.Run(data); verr != nil || n == 0 {
					ls.PreFilter++
					break
				}
			}
			if dec.decode(data, &pkt) {
				pkt.Time = ci.Timestamp.UTC()
				pkt.Offset = ls.Frames
				if err := t.handle(&pkt); err != nil {
					return ls, err
				}
			}
		case errors.Is(err, afpacket.ErrTimeout), errors.Is(err, unix.EINTR):
		default:
			return ls, fmt.Errorf("capture: interface %q: frame %d: %w", name, ls.Frames+1, err)
		}
		if now := time.Now(); now.Sub(lastTick) >= lopts.TickEvery {
			lastTick = now
			if err := tick(now); err != nil {
				return ls, err
			}
		}
	}
	// Stopped (SIGINT, SIGTERM): every session still collecting is emitted.
	if err := t.flush(); err != nil {
		return ls, err
	}
	return ls, tick(time.Now())
}

// dropOutgoing prefixes prog with "drop the frames this host sends", using
// the kernel's packet-type extension.
func dropOutgoing(prog []bpf.RawInstruction) []bpf.RawInstruction {
	head := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipTrue: 0, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	}
	if len(prog) == 0 {
		head = append(head, bpf.RetConstant{Val: snapLen})
	}
	out, err := bpf.Assemble(head)
	if err != nil {
		panic(err) // fixed instructions
	}
	return append(out, prog...)
}

// interfaceLink maps the interface's ARPHRD type to the framing AF_PACKET
// delivers and the filter compiler needs.
func interfaceLink(name string) (layers.LinkType, pcapfilter.Link, error) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return 0, 0, fmt.Errorf("capture: interface %q: link type: %w", name, err)
	}
	typ, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, 0, fmt.Errorf("capture: interface %q: link type %q", name, b)
	}
	switch typ {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		return layers.LinkTypeEthernet, pcapfilter.Ethernet, nil
	case unix.ARPHRD_NONE, unix.ARPHRD_TUNNEL, unix.ARPHRD_TUNNEL6:
		return layers.LinkTypeRaw, pcapfilter.RawIP, nil
	}
	return 0, 0, fmt.Errorf("capture: interface %q: ARPHRD type %d is not supported (Ethernet, loopback and raw-IP tunnels are)", name, typ)
}
