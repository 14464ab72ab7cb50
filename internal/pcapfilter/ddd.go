package pcapfilter

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"
)

// ParseDDD reads a program as `tcpdump -ddd EXPR` prints it: the number of
// instructions on the first line, then one "code jt jf k" line each, in
// decimal. Lines may also be separated by commas (the form `tcpdump -ddd
// EXPR | tr '\n' ','` gives, handy on a command line). The program is
// checked as the kernel would: jumps stay inside it and it ends in a
// return.
func ParseDDD(text string) ([]bpf.RawInstruction, error) {
	lines := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' || r == ';' })
	var clean []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			clean = append(clean, l)
		}
	}
	if len(clean) == 0 {
		return nil, fmt.Errorf("bpf program: empty")
	}
	n, err := strconv.Atoi(clean[0])
	if err != nil || n <= 0 || n > MaxInstructions {
		return nil, fmt.Errorf("bpf program: first line %q: want the instruction count (1-%d)", clean[0], MaxInstructions)
	}
	if len(clean)-1 != n {
		return nil, fmt.Errorf("bpf program: says %d instructions, has %d", n, len(clean)-1)
	}
	prog := make([]bpf.RawInstruction, n)
	for i, l := range clean[1:] {
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, fmt.Errorf("bpf program: instruction %d %q: want 4 numbers (code jt jf k)", i, l)
		}
		var v [4]uint64
		for j, bits := range [4]int{16, 8, 8, 32} {
			if v[j], err = strconv.ParseUint(f[j], 10, bits); err != nil {
				return nil, fmt.Errorf("bpf program: instruction %d %q: field %d: %v", i, l, j+1, err)
			}
		}
		ri := bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}
		if err := checkJump(ri, i, n); err != nil {
			return nil, err
		}
		prog[i] = ri
	}
	if last := prog[n-1]; last.Op&0x07 != 0x06 { // BPF_RET
		return nil, fmt.Errorf("bpf program: last instruction (code %d) is not a return", last.Op)
	}
	return prog, nil
}

// checkJump rejects a jump that leaves the program.
func checkJump(ri bpf.RawInstruction, i, n int) error {
	if ri.Op&0x07 != 0x05 { // BPF_JMP
		return nil
	}
	if ri.Op&0xf0 == 0x00 { // BPF_JA
		if uint64(i)+1+uint64(ri.K) >= uint64(n) {
			return fmt.Errorf("bpf program: instruction %d jumps past the end", i)
		}
		return nil
	}
	if i+1+int(max(ri.Jt, ri.Jf)) >= n {
		return fmt.Errorf("bpf program: instruction %d jumps past the end", i)
	}
	return nil
}

// Program returns the filter --bpf asks for: tcpdump -ddd output when text
// is one (it starts with a number), otherwise an expression of the subset.
func Program(text string, link Link, snaplen uint32) ([]bpf.RawInstruction, error) {
	t := strings.TrimSpace(text)
	if t != "" && t[0] >= '0' && t[0] <= '9' {
		if f := strings.FieldsFunc(t, func(r rune) bool { return r == '\n' || r == ',' || r == ';' }); len(f) > 1 {
			return ParseDDD(t)
		}
	}
	return Compile(text, link, snaplen)
}
