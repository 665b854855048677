package client

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// The record codec. A record's struct tags are the one definition of its
// keys: `dbus:"key"` names the a{sv} key, which is also the HTTP API's
// JSON key, and `dbus:"key,omitempty"` leaves a zero field out (the
// request records, whose absent keys mean "the default"); `property` on
// a Summary field makes it a D-Bus property too (Properties). One encoder
// and one decoder read the tags, through a plan built once per type:
//
//	Go field            D-Bus                       HTTP (JSON)
//	string              s                           string
//	bool, float64       b, d                        boolean, number
//	uint32, uint64      u, t                        number
//	int64               x                           number
//	time.Time           t: µs since the epoch,      RFC 3339 in UTC,
//	                    0 for none (and before it)  null for none
//	time.Duration       t: µs, negative as 0        µs
//	                    (its key ends in _usec)
//	[]string            as, never absent            array, never null
//	map[string]uint64   a{st}, never absent         object, null for none
//	[]Record            aa{sv}                      array of objects
//	embedded Record     its keys, inline            its keys, inline
//
// Decoding is tolerant, so a newer daemon's records still decode: an
// unknown key is ignored, a missing or mistyped one leaves its field
// zero, an empty list or map decodes as nil, and every string (list
// items and map keys too) is made printable (see Printable). The
// daemon's strict reading of the request records (InjectIssue,
// AddSilence) checks against Keys first.

// Encode encodes a record (a struct, or a pointer to one) as a{sv}.
func Encode(rec any) map[string]dbus.Variant {
	v := reflect.Indirect(reflect.ValueOf(rec))
	return planOf(v.Type()).encode(v)
}

// Maps encodes records as aa{sv}, never nil.
func Maps[T any](recs []T) []map[string]dbus.Variant {
	p := planOf(reflect.TypeFor[T]())
	out := make([]map[string]dbus.Variant, len(recs))
	for i := range recs {
		out[i] = p.encode(reflect.ValueOf(&recs[i]).Elem())
	}
	return out
}

// Decode decodes an a{sv} record into T, tolerantly (see above).
func Decode[T any](m map[string]dbus.Variant) T {
	var rec T
	planOf(reflect.TypeFor[T]()).decode(reflect.ValueOf(&rec).Elem(), m)
	return rec
}

// DecodeAll decodes aa{sv}; nil for none.
func DecodeAll[T any](ms []map[string]dbus.Variant) []T {
	if len(ms) == 0 {
		return nil
	}
	p := planOf(reflect.TypeFor[T]())
	out := make([]T, len(ms))
	for i, m := range ms {
		p.decode(reflect.ValueOf(&out[i]).Elem(), m)
	}
	return out
}

// JSON is a record as the HTTP API serves it (docs/http.md), ready for
// encoding/json: the same keys, with times in RFC 3339.
func JSON(rec any) map[string]any {
	v := reflect.Indirect(reflect.ValueOf(rec))
	return planOf(v.Type()).json(v)
}

// Keys are a record type's keys and their D-Bus signatures: what the
// daemon accepts in a request record, and nothing else.
func Keys[T any]() map[string]string {
	p := planOf(reflect.TypeFor[T]())
	keys := make(map[string]string, len(p.fields))
	for _, f := range p.fields {
		keys[f.key] = f.sig.String()
	}
	return keys
}

// Properties are the D-Bus properties within an encoded Summary: each
// field tagged `property` under its Go name (Version, DryRun, …), with the
// value its key has in GetStatus, so the two never disagree.
func Properties(summary map[string]dbus.Variant) map[string]dbus.Variant {
	props := map[string]dbus.Variant{}
	for _, f := range planOf(reflect.TypeFor[Summary]()).fields {
		if f.property {
			props[f.name] = summary[f.key]
		}
	}
	return props
}

// kind is how a field travels.
type kind uint8

const (
	kPlain    kind = iota // bool, float64, uint32, uint64, int64: as they are
	kString               // made printable when decoded
	kTime                 // µs since the epoch
	kDuration             // µs
	kStrings              // never absent on D-Bus
	kCounts               // never absent on D-Bus
	kRecords              // each a record of its own
)

var kinds = map[reflect.Type]struct {
	kind kind
	sig  string
}{
	reflect.TypeFor[string]():            {kString, "s"},
	reflect.TypeFor[bool]():              {kPlain, "b"},
	reflect.TypeFor[float64]():           {kPlain, "d"},
	reflect.TypeFor[uint32]():            {kPlain, "u"},
	reflect.TypeFor[uint64]():            {kPlain, "t"},
	reflect.TypeFor[int64]():             {kPlain, "x"},
	reflect.TypeFor[time.Time]():         {kTime, "t"},
	reflect.TypeFor[time.Duration]():     {kDuration, "t"},
	reflect.TypeFor[[]string]():          {kStrings, "as"},
	reflect.TypeFor[map[string]uint64](): {kCounts, "a{st}"},
}

type field struct {
	key       string
	name      string // the Go field's, which names a D-Bus property
	property  bool
	index     []int // through embedded records
	kind      kind
	sig       dbus.Signature
	omitEmpty bool
	elem      *plan // kRecords: the element's plan
}

// plan is how one record type is encoded and decoded, built once.
type plan struct {
	fields []field
}

var plans sync.Map // reflect.Type → *plan

// planOf returns t's plan. A record type the codec cannot carry is a bug
// in this package, caught by its tests: it panics.
func planOf(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := &plan{}
	p.add(t, nil)
	actual, _ := plans.LoadOrStore(t, p)
	return actual.(*plan)
}

func (p *plan) add(t reflect.Type, index []int) {
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("client: %s is not a record", t))
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		at := append(index[:len(index):len(index)], i)
		if sf.Anonymous {
			p.add(sf.Type, at)
			continue
		}
		tag := sf.Tag.Get("dbus")
		if tag == "" || !sf.IsExported() {
			panic(fmt.Sprintf("client: %s.%s has no dbus tag", t, sf.Name))
		}
		key, opts, _ := strings.Cut(tag, ",")
		f := field{key: key, name: sf.Name, index: at}
		for _, opt := range strings.Split(opts, ",") {
			switch opt {
			case "omitempty":
				f.omitEmpty = true
			case "property":
				f.property = true
			case "":
			default:
				panic(fmt.Sprintf("client: %s.%s: unknown tag option %q", t, sf.Name, opt))
			}
		}
		if k, ok := kinds[sf.Type]; ok {
			f.kind, f.sig = k.kind, dbus.ParseSignatureMust(k.sig)
		} else if sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.Struct {
			f.kind, f.sig, f.elem = kRecords, dbus.ParseSignatureMust("aa{sv}"), planOf(sf.Type.Elem())
		} else {
			panic(fmt.Sprintf("client: %s.%s: the codec cannot carry a %s", t, sf.Name, sf.Type))
		}
		if (f.kind == kDuration) != strings.HasSuffix(key, "_usec") {
			panic(fmt.Sprintf("client: %s.%s: a duration's key, and only a duration's, ends in _usec", t, sf.Name))
		}
		for _, g := range p.fields {
			if g.key == key {
				panic(fmt.Sprintf("client: %s: key %s twice", t, key))
			}
		}
		p.fields = append(p.fields, f)
	}
}

func (p *plan) encode(v reflect.Value) map[string]dbus.Variant {
	m := make(map[string]dbus.Variant, len(p.fields))
	for i := range p.fields {
		f := &p.fields[i]
		fv := v.FieldByIndex(f.index)
		if f.omitEmpty && fv.IsZero() {
			continue
		}
		m[f.key] = dbus.MakeVariantWithSignature(f.wire(fv), f.sig)
	}
	return m
}

// wire is a field's value as D-Bus carries it.
func (f *field) wire(v reflect.Value) any {
	switch f.kind {
	case kTime:
		return usec(v.Interface().(time.Time))
	case kDuration:
		return uint64(max(time.Duration(v.Int()), 0).Microseconds())
	case kStrings:
		if v.IsNil() {
			return []string{}
		}
	case kCounts:
		if v.IsNil() {
			return map[string]uint64{}
		}
	case kRecords:
		out := make([]map[string]dbus.Variant, v.Len())
		for i := range out {
			out[i] = f.elem.encode(v.Index(i))
		}
		return out
	}
	return v.Interface()
}

// maxDurationUsec is the longest duration, in µs, a time.Duration holds.
const maxDurationUsec = uint64(math.MaxInt64 / int64(time.Microsecond))

// usec is a time as µs since the epoch, 0 for the zero time and any
// before the epoch.
func usec(t time.Time) uint64 {
	if t.IsZero() || t.UnixMicro() < 0 {
		return 0
	}
	return uint64(t.UnixMicro())
}

func (p *plan) decode(v reflect.Value, m map[string]dbus.Variant) {
	for i := range p.fields {
		f := &p.fields[i]
		val, ok := m[f.key]
		if !ok {
			continue
		}
		fv := v.FieldByIndex(f.index)
		switch x := val.Value(); f.kind {
		case kString:
			if s, ok := x.(string); ok {
				fv.SetString(Printable(s))
			}
		case kTime:
			// Beyond MaxInt64 µs the conversion would wrap to a time
			// before the epoch: as mistyped, left zero.
			if u, ok := x.(uint64); ok && u != 0 && u <= math.MaxInt64 {
				*fv.Addr().Interface().(*time.Time) = time.UnixMicro(int64(u))
			}
		case kDuration:
			// Beyond maxDurationUsec it would wrap negative: as
			// mistyped, left zero.
			if u, ok := x.(uint64); ok && u <= maxDurationUsec {
				fv.SetInt(int64(time.Duration(u) * time.Microsecond))
			}
		case kStrings:
			if l, ok := x.([]string); ok && len(l) > 0 {
				*fv.Addr().Interface().(*[]string) = printables(l)
			}
		case kCounts:
			if c, ok := x.(map[string]uint64); ok && len(c) > 0 {
				*fv.Addr().Interface().(*map[string]uint64) = printableKeys(c)
			}
		case kRecords:
			if ms, ok := x.([]map[string]dbus.Variant); ok && len(ms) > 0 {
				list := reflect.MakeSlice(fv.Type(), len(ms), len(ms))
				for i, m := range ms {
					f.elem.decode(list.Index(i), m)
				}
				fv.Set(list)
			}
		case kPlain: // as sent, when of the field's type
			if rv := reflect.ValueOf(x); rv.IsValid() && rv.Type() == fv.Type() {
				fv.Set(rv)
			}
		}
	}
}

// printables is l with every item printable, l itself when all are.
func printables(l []string) []string {
	var out []string
	for i, s := range l {
		if p := Printable(s); p != s {
			if out == nil {
				out = append([]string(nil), l...)
			}
			out[i] = p
		}
	}
	if out == nil {
		return l
	}
	return out
}

// printableKeys is m with every key printable, m itself when all are.
func printableKeys(m map[string]uint64) map[string]uint64 {
	for k := range m {
		if Printable(k) != k {
			out := make(map[string]uint64, len(m))
			for k, n := range m {
				out[Printable(k)] += n
			}
			return out
		}
	}
	return m
}

func (p *plan) json(v reflect.Value) map[string]any {
	m := make(map[string]any, len(p.fields))
	for i := range p.fields {
		f := &p.fields[i]
		fv := v.FieldByIndex(f.index)
		if f.omitEmpty && fv.IsZero() {
			continue
		}
		m[f.key] = f.jsonValue(fv)
	}
	return m
}

func (f *field) jsonValue(v reflect.Value) any {
	switch f.kind {
	case kTime:
		if t := v.Interface().(time.Time); !t.IsZero() {
			return t.UTC()
		}
		return nil
	case kDuration:
		return time.Duration(v.Int()).Microseconds()
	case kStrings:
		if v.IsNil() {
			return []string{}
		}
	case kRecords:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = f.elem.json(v.Index(i))
		}
		return out
	}
	return v.Interface()
}
