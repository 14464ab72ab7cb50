package pcapfilter

import (
	"testing"

	"golang.org/x/net/bpf"
)

// FuzzCompile feeds arbitrary expressions: the compiler never panics, what
// it accepts the BPF VM accepts too, and "not (E)" matches exactly the
// frames E does not.
func FuzzCompile(f *testing.F) {
	for _, e := range agreeing {
		f.Add(e)
	}
	f.Add("src or dst port 443 and (udp or not icmp6)")
	frames := syntheticFrames(f)
	f.Fuzz(func(t *testing.T, expr string) {
		prog, err := Compile(expr, Ethernet, 65535)
		if err != nil {
			return
		}
		if len(prog) > MaxInstructions {
			t.Fatalf("%d instructions", len(prog))
		}
		neg, err := Compile("not ("+expr+")", Ethernet, 65535)
		if err != nil {
			return // e.g. nested one level too deep
		}
		yes, no := run(t, prog, frames), run(t, neg, frames)
		for i := range frames {
			if yes[i] == no[i] {
				t.Fatalf("%q and its negation agree (%v) on frame %d", expr, yes[i], i)
			}
		}
	})
}

// FuzzParseDDD: arbitrary text never panics, and an accepted program has
// its jumps inside it and ends in a return.
func FuzzParseDDD(f *testing.F) {
	f.Add("2\n40 0 0 12\n6 0 0 262144\n")
	f.Add("4,40 0 0 12,21 0 1 2048,6 0 0 65535,6 0 0 0")
	f.Fuzz(func(t *testing.T, text string) {
		prog, err := ParseDDD(text)
		if err != nil {
			return
		}
		for i, ri := range prog {
			if checkJump(ri, i, len(prog)) != nil {
				t.Fatalf("instruction %d jumps out: %+v", i, ri)
			}
		}
		if _, ok := prog[len(prog)-1].Disassemble().(bpf.RetConstant); !ok {
			if _, ok := prog[len(prog)-1].Disassemble().(bpf.RetA); !ok {
				t.Fatalf("last instruction %v", prog[len(prog)-1].Disassemble())
			}
		}
	})
}
