package pipeline

import (
	"net/netip"
	"strings"

	"github.com/scannergrouper/scannergrouper/internal/evidence"
	"github.com/scannergrouper/scannergrouper/internal/feature"
	"github.com/scannergrouper/scannergrouper/internal/probe"
)

// evidenceSources are what the payload senders of an incremental state
// were counted from, kept so that a grown layout re-encodes them instead of
// the whole history: per service, every distinct content a layout reads
// (the fields it holds, in the probe's order, and the destination when a
// field's identity view needs it), with each sender's first probe time and
// its class then. Scanners repeat themselves, so there are far fewer
// contents than probes; the labels are those they were learnt with (a
// state whose labels changed since is relearnt from the history).
type evidenceSources struct {
	services map[string]*serviceSources
}

type serviceSources struct {
	index map[string]int // content key → Contents index
	// Contents in the order first seen.
	Contents []sourceContent `json:"contents"`
}

// sourceContent is one distinct content and who sent it.
type sourceContent struct {
	Fields  probe.Fields   `json:"fields"`
	Dst     netip.Addr     `json:"dst,omitzero"`
	Senders []sourceSender `json:"senders"`
	senders map[netip.Addr]bool
}

// sourceSender is one sender of a content: its first probe with it (Unix
// nanoseconds) and its evidence class at that time.
type sourceSender struct {
	IP    netip.Addr `json:"ip"`
	First int64      `json:"first"`
	Class int        `json:"class"`
}

func newEvidenceSources() *evidenceSources {
	return &evidenceSources{services: map[string]*serviceSources{}}
}

// layoutReads is what a layout reads of a probe: the names of its fields,
// and whether a string field's identity view needs the destination.
func layoutReads(l *feature.Layout) (names map[string]bool, dst bool) {
	names = make(map[string]bool, len(l.Fields))
	for _, f := range l.Fields {
		names[f.Name] = true
		if f.Kind == probe.KindString && f.Identity != probe.IdentityNone {
			dst = true
		}
	}
	return names, dst
}

// add records data's probes of the services with a model, labelled as
// data is, in data's (time) order. Its only error is reading
// per-connection values again (Series.reads).
func (s *evidenceSources) add(models map[string]*ServiceModel, data *Data, classes *Classes) error {
	var key strings.Builder
	for _, svc := range Services {
		sm := models[svc]
		ser := data.S(svc)
		if sm == nil || ser.Len() == 0 {
			continue
		}
		ss := s.services[svc]
		if ss == nil {
			ss = &serviceSources{index: map[string]int{}}
			s.services[svc] = ss
		}
		if err := ser.readsLayout(sm.Layout); err != nil {
			return err
		}
		names, needDst := layoutReads(sm.Layout)
		var buf probe.Fields // the fields kept are copied out of it
		for i, r := range ser.recs.all() {
			var dst netip.Addr
			if needDst {
				dst = ser.tab.addrs.list[r.dst]
			}
			p := ser.in.probeInto(ser.in.of(r), buf)
			buf = p.Fields
			contentKey(&key, p.Fields, names, dst)
			j, ok := ss.index[key.String()]
			if !ok {
				var fs probe.Fields
				for _, f := range p.Fields {
					if names[f.Name] {
						fs = append(fs, f)
					}
				}
				j = len(ss.Contents)
				ss.index[key.String()] = j
				ss.Contents = append(ss.Contents, sourceContent{Fields: fs, Dst: dst, senders: map[netip.Addr]bool{}})
			}
			c := &ss.Contents[j]
			ip := ser.SrcIP(i).Unmap()
			if c.senders[ip] {
				continue // its first probe is the one counted
			}
			c.senders[ip] = true
			c.Senders = append(c.Senders, sourceSender{IP: ip, First: r.t, Class: evidenceClass(classes, ser.Org(i))})
		}
	}
	return nil
}

// payloads counts the payload senders of every service with a model as
// learn does from the probes the sources were recorded from, encoded with
// the layouts as they are now: a sender counts once per encoded payload,
// with its class at its first probe of it.
func (s *evidenceSources) payloads(models map[string]*ServiceModel) *evidence.Payloads {
	pay := evidence.NewPayloads()
	type senderKey struct {
		d  evidence.Digest
		ip netip.Addr
	}
	for _, svc := range Services {
		sm, ss := models[svc], s.services[svc]
		if sm == nil || ss == nil {
			continue
		}
		first := map[senderKey]sourceSender{}
		var order []senderKey
		img := make([]uint8, sm.Layout.Pixels())
		for i := range ss.Contents {
			c := &ss.Contents[i]
			sm.Layout.Encode(probe.Probe{Service: svc, Fields: c.Fields, DstIP: c.Dst}, img)
			d := feature.KeyOf(img)
			pay.Remember(svc, d, img)
			for _, snd := range c.Senders {
				k := senderKey{d, snd.IP}
				if old, ok := first[k]; !ok {
					first[k] = snd
					order = append(order, k)
				} else if snd.First < old.First {
					first[k] = snd
				}
			}
		}
		for _, k := range order {
			pay.Add(svc, k.d, k.ip, first[k].Class)
		}
	}
	return pay
}

// load restores the transient indexes of sources read from JSON.
func (s *evidenceSources) load(saved map[string]*serviceSources) {
	var key strings.Builder
	for svc, ss := range saved {
		ss.index = make(map[string]int, len(ss.Contents))
		for j := range ss.Contents {
			c := &ss.Contents[j]
			contentKey(&key, c.Fields, nil, c.Dst)
			ss.index[key.String()] = j
			c.senders = make(map[netip.Addr]bool, len(c.Senders))
			for _, snd := range c.Senders {
				c.senders[snd.IP] = true
			}
		}
		s.services[svc] = ss
	}
}

// contentKey writes into key what tells contents apart: the fields of fs
// that names holds (nil: all), in order, and dst when valid.
func contentKey(key *strings.Builder, fs probe.Fields, names map[string]bool, dst netip.Addr) {
	key.Reset()
	for _, f := range fs {
		if names != nil && !names[f.Name] {
			continue
		}
		key.WriteString(f.Name)
		key.WriteByte(0)
		key.WriteString(f.Value)
		for _, it := range f.Items {
			key.WriteByte(1)
			key.WriteString(it)
		}
		key.WriteByte(2)
	}
	if dst.IsValid() {
		key.WriteString(dst.String())
	}
}
