package pcapfilter

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

// Link is the framing of the packets a program will see.
type Link uint8

const (
	// Ethernet frames (DLT_EN10MB): Ethernet NICs and Linux's loopback.
	Ethernet Link = iota
	// RawIP packets with no link header (tun devices, DLT_RAW).
	RawIP
)

// MaxInstructions is the kernel's bound on a classic BPF program.
const MaxInstructions = 4096

// Compile compiles a filter expression of the subset the package comment
// describes into a classic BPF program for link that accepts up to snaplen
// bytes of a matching packet and drops the others.
func Compile(expr string, link Link, snaplen uint32) ([]bpf.RawInstruction, error) {
	n, err := parse(expr)
	if err != nil {
		return nil, err
	}
	g := &codegen{link: link}
	accept, reject := g.label(), g.label()
	g.gen(n, accept, reject)
	g.place(accept)
	g.emit(bpf.RetConstant{Val: snaplen})
	g.place(reject)
	g.emit(bpf.RetConstant{Val: 0})
	prog, err := g.assemble()
	if err != nil {
		if len(expr) > 60 {
			expr = expr[:60] + "..."
		}
		return nil, fmt.Errorf("bpf expression %q: %w", expr, err)
	}
	return prog, nil
}

type label int

// insn is an instruction whose jump targets are still labels.
type insn struct {
	ins    bpf.Instruction
	cond   bool
	jt, jf label
}

type codegen struct {
	link   Link
	insns  []insn
	labels []int // label -> instruction index, -1 until placed
	// a and x describe what the accumulator and index register hold, so a
	// run of tests on the same field loads it once; in is what they hold on
	// every jump to a label ("" where the jumps disagree). Jumps only go
	// forward, so a label's jumps are all known when it is placed.
	a, x string
	in   []regs
}

type regs struct {
	a, x string
	set  bool
}

func (g *codegen) jumpsTo(l label) {
	r := &g.in[l]
	if !r.set {
		*r = regs{g.a, g.x, true}
		return
	}
	if r.a != g.a {
		r.a = ""
	}
	if r.x != g.x {
		r.x = ""
	}
}

func (g *codegen) label() label {
	g.labels = append(g.labels, -1)
	g.in = append(g.in, regs{})
	return label(len(g.labels) - 1)
}

func (g *codegen) place(l label) {
	g.labels[l] = len(g.insns)
	g.a, g.x = g.in[l].a, g.in[l].x
}

func (g *codegen) emit(ins bpf.Instruction) { g.insns = append(g.insns, insn{ins: ins}) }

func (g *codegen) loadA(key string, ins ...bpf.Instruction) {
	if g.a == key {
		return
	}
	for _, i := range ins {
		g.emit(i)
	}
	g.a = key
}

// netOff is where the network header starts.
func (g *codegen) netOff() uint32 {
	if g.link == Ethernet {
		return 14
	}
	return 0
}

func (g *codegen) gen(n *node, t, f label) {
	switch n.op {
	case opAnd:
		mid := g.label()
		g.gen(n.l, mid, f)
		g.place(mid)
		g.gen(n.r, t, f)
	case opOr:
		mid := g.label()
		g.gen(n.l, t, mid)
		g.place(mid)
		g.gen(n.r, t, f)
	case opNot:
		g.gen(n.l, f, t)
	default:
		g.atom(n.a, t, f)
	}
}

func (g *codegen) atom(a atom, t, f label) {
	cond, val := a.cond, a.val
	switch a.kind {
	case isIPv4, isIPv6:
		if g.link == Ethernet {
			g.loadA("ethertype", bpf.LoadAbsolute{Off: 12, Size: 2})
			cond, val = bpf.JumpEqual, 0x0800
			if a.kind == isIPv6 {
				val = 0x86dd
			}
		} else {
			g.loadA("version", bpf.LoadAbsolute{Off: 0, Size: 1}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
			cond, val = bpf.JumpEqual, 0x40
			if a.kind == isIPv6 {
				val = 0x60
			}
		}
	case fromNet:
		load := []bpf.Instruction{bpf.LoadAbsolute{Off: g.netOff() + a.off, Size: a.size}}
		if a.mask != 0 {
			load = append(load, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: a.mask})
		}
		g.loadA(fmt.Sprintf("net %d/%d &%x", a.off, a.size, a.mask), load...)
	case fromIPv4L4:
		key := fmt.Sprintf("l4 %d/%d", a.off, a.size)
		if g.a != key {
			if g.x != "ihl" {
				g.emit(bpf.LoadMemShift{Off: g.netOff()})
				g.x = "ihl"
			}
			g.emit(bpf.LoadIndirect{Off: g.netOff() + a.off, Size: a.size})
			g.a = key
		}
	}
	g.insns = append(g.insns, insn{ins: bpf.JumpIf{Cond: cond, Val: val}, cond: true, jt: t, jf: f})
	g.jumpsTo(t)
	g.jumpsTo(f)
}

// errTooFar is returned when a conditional jump would skip more than the
// 255 instructions its 8-bit offsets can express.
var errTooFar = errors.New("filter too large: a jump spans more than 255 instructions; simplify it or use tcpdump -ddd output")

func (g *codegen) assemble() ([]bpf.RawInstruction, error) {
	if len(g.insns) > MaxInstructions {
		return nil, fmt.Errorf("filter of %d instructions exceeds the kernel's %d; simplify it", len(g.insns), MaxInstructions)
	}
	out := make([]bpf.RawInstruction, len(g.insns))
	for i, in := range g.insns {
		ins := in.ins
		if in.cond {
			jt, jf := g.labels[in.jt]-i-1, g.labels[in.jf]-i-1
			if jt > 255 || jf > 255 {
				return nil, errTooFar
			}
			j := ins.(bpf.JumpIf)
			j.SkipTrue, j.SkipFalse = uint8(jt), uint8(jf)
			ins = j
		}
		raw, err := ins.Assemble()
		if err != nil {
			return nil, err
		}
		out[i] = raw
	}
	return out, nil
}
