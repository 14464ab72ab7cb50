package capture

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// packet is the part of a captured frame that session tracking needs. Payload
// aliases the reader's buffer and is only valid until the next read.
type packet struct {
	Time     time.Time
	Src, Dst netip.Addr
	SrcPort  uint16
	DstPort  uint16
	UDP      bool
	SYN, ACK bool
	FIN, RST bool
	Seq, Ack uint32
	NoSeq    bool // Seq is meaningless (payload CSV rows)
	Payload  []byte
	Offset   int64 // byte offset of the packet record in the (decompressed) file
}

// FileError says which file and byte offset a read failed at. Offsets are in
// the decompressed stream for gzip files.
type FileError struct {
	File   string
	Offset int64
	Err    error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("%s: offset %d: %v", e.File, e.Offset, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// ErrNotCapture is returned for files that are neither pcap nor pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng capture file")

// countingReader counts bytes handed to the bufio.Reader above it, so the
// offset of the next unread byte is count - buffered.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// fileReader yields decoded packets from one pcap or pcapng file.
type fileReader struct {
	name    string
	file    io.Closer
	gz      *gzip.Reader
	counter *countingReader
	buf     *bufio.Reader
	src     packetSource
	dec     *decoder
	link    layers.LinkType
}

var (
	pcapMagics = [][4]byte{
		{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4}, // microseconds
		{0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d}, // nanoseconds
	}
	pcapngMagic = [4]byte{0x0a, 0x0d, 0x0d, 0x0a}
)

// openFile opens a capture, transparently gunzipping it, and checks its magic
// so a wrong file is rejected with a clear message before anything is read.
func openFile(name string) (*fileReader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return openReader(name, f)
}

// openReader reads a capture from r, named name in errors; closing the
// fileReader closes r.
func openReader(name string, r io.ReadCloser) (*fileReader, error) {
	fr := &fileReader{name: name, file: r}
	var raw io.Reader = r
	head := bufio.NewReader(r)
	if magic, _ := head.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(head)
		if err != nil {
			r.Close()
			return nil, &FileError{name, 0, fmt.Errorf("bad gzip header: %w", err)}
		}
		fr.gz = gz
		raw = gz
	} else {
		raw = head
	}
	fr.counter = &countingReader{r: raw}
	// pcapgo wraps its input in bufio.NewReader, which returns an existing
	// *bufio.Reader of sufficient size unchanged; that keeps our offsets exact.
	fr.buf = bufio.NewReaderSize(fr.counter, 1<<16)
	magic, err := fr.buf.Peek(4)
	if err != nil && err != io.EOF {
		fr.Close()
		return nil, &FileError{name, 0, err} // a read error, not a short file
	}
	if len(magic) < 4 {
		fr.Close()
		return nil, &FileError{name, 0, ErrNotCapture}
	}
	var m [4]byte
	copy(m[:], magic)
	switch {
	case m == pcapngMagic:
		r, err := pcapgo.NewNgReader(fr.buf, pcapgo.NgReaderOptions{})
		if err != nil {
			fr.Close()
			return nil, &FileError{name, fr.offset(), fmt.Errorf("pcapng header: %w", err)}
		}
		fr.src = r
	case isPcapMagic(m):
		r, err := pcapgo.NewReader(fr.buf)
		if err != nil {
			fr.Close()
			return nil, &FileError{name, fr.offset(), fmt.Errorf("pcap header: %w", err)}
		}
		fr.src = r
	default:
		fr.Close()
		return nil, &FileError{name, 0, ErrNotCapture}
	}
	fr.link = fr.src.LinkType()
	fr.dec, err = newDecoder(fr.link)
	if err != nil {
		fr.Close()
		return nil, &FileError{name, 0, err}
	}
	return fr, nil
}

func isPcapMagic(m [4]byte) bool {
	for _, pm := range pcapMagics {
		if m == pm {
			return true
		}
	}
	return false
}

func (fr *fileReader) offset() int64 { return fr.counter.n - int64(fr.buf.Buffered()) }

// next reads the next packet that carries TCP or UDP. It returns io.EOF at a
// clean end and a *FileError for a truncated or corrupt file.
func (fr *fileReader) next(p *packet) error {
	for {
		off := fr.offset()
		data, ci, err := fr.src.ZeroCopyReadPacketData()
		if err != nil {
			if err == io.EOF {
				return io.EOF
			}
			if err == io.ErrUnexpectedEOF {
				err = errors.New("truncated packet record (file cut short)")
			}
			return &FileError{fr.name, off, err}
		}
		// pcapng's linktype can change per interface; the decoder follows.
		if lt := fr.src.LinkType(); lt != fr.link {
			if d, derr := newDecoder(lt); derr == nil {
				fr.dec, fr.link = d, lt
			}
		}
		if fr.dec.decode(data, p) {
			p.Time = ci.Timestamp.UTC()
			p.Offset = off
			return nil
		}
	}
}

func (fr *fileReader) Close() error {
	if fr.gz != nil {
		fr.gz.Close()
	}
	return fr.file.Close()
}

// decoder turns frames of one link type into packets using gopacket's
// allocation-free DecodingLayerParser.
type decoder struct {
	link    layers.LinkType
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	first   gopacket.LayerType
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	loop    layers.Loopback
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	udp     layers.UDP
	decoded []gopacket.LayerType
}

func newDecoder(link layers.LinkType) (*decoder, error) {
	d := &decoder{link: link, parsers: map[gopacket.LayerType]*gopacket.DecodingLayerParser{}}
	switch link {
	case layers.LinkTypeEthernet:
		d.first = layers.LayerTypeEthernet
	case layers.LinkTypeLinuxSLL:
		d.first = layers.LayerTypeLinuxSLL
	case layers.LinkTypeLinuxSLL2:
		d.first = layers.LayerTypeLinuxSLL2
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		d.first = layers.LayerTypeLoopback
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12, 14:
		// Raw IP: the version nibble of each packet picks the first layer.
		d.first = gopacket.LayerTypeZero
	default:
		return nil, fmt.Errorf("unsupported link type %d (%s)", int(link), link)
	}
	return d, nil
}

func (d *decoder) parser(first gopacket.LayerType) *gopacket.DecodingLayerParser {
	if p, ok := d.parsers[first]; ok {
		return p
	}
	p := gopacket.NewDecodingLayerParser(first, &d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.ip4, &d.ip6, &d.tcp, &d.udp)
	p.IgnoreUnsupported = true
	d.parsers[first] = p
	return p
}

// decode fills p from a frame and reports whether it is a TCP or UDP packet
// we can use. Malformed frames are skipped, never fatal: packets come from
// the open Internet.
func (d *decoder) decode(data []byte, p *packet) bool {
	first := d.first
	if first == gopacket.LayerTypeZero {
		if len(data) == 0 {
			return false
		}
		switch data[0] >> 4 {
		case 4:
			first = layers.LayerTypeIPv4
		case 6:
			first = layers.LayerTypeIPv6
		default:
			return false
		}
	}
	// A decode error after the transport layer (e.g. an odd payload) still
	// leaves the layers we need decoded, so the error itself is ignored.
	_ = d.parser(first).DecodeLayers(data, &d.decoded)
	var haveIP, haveL4 bool
	for _, lt := range d.decoded {
		switch lt {
		case layers.LayerTypeIPv4:
			if d.ip4.FragOffset != 0 {
				return false // later fragments carry no transport header
			}
			p.Src, _ = netip.AddrFromSlice(d.ip4.SrcIP.To4())
			p.Dst, _ = netip.AddrFromSlice(d.ip4.DstIP.To4())
			haveIP = true
		case layers.LayerTypeIPv6:
			p.Src, _ = netip.AddrFromSlice(d.ip6.SrcIP)
			p.Dst, _ = netip.AddrFromSlice(d.ip6.DstIP)
			haveIP = true
		case layers.LayerTypeTCP:
			t := &d.tcp
			p.UDP = false
			p.SrcPort, p.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
			p.SYN, p.ACK, p.FIN, p.RST = t.SYN, t.ACK, t.FIN, t.RST
			p.Seq, p.Ack = t.Seq, t.Ack
			p.Payload = t.Payload
			haveL4 = true
		case layers.LayerTypeUDP:
			u := &d.udp
			p.UDP = true
			p.SrcPort, p.DstPort = uint16(u.SrcPort), uint16(u.DstPort)
			p.SYN, p.ACK, p.FIN, p.RST = false, false, false, false
			p.Seq, p.Ack = 0, 0
			p.Payload = u.Payload
			haveL4 = true
		}
	}
	return haveIP && haveL4 && p.Src.IsValid() && p.Dst.IsValid()
}
