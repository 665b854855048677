package web

import (
	"reflect"
	"time"

	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
	"github.com/luminous-healing/luminous-healing/internal/wire"
)

// The HTTP API serves the D-Bus API's records (internal/client, built from
// the engine by internal/wire), encoded by their `dbus` tags, so the keys
// are the same on both. Two deliberate differences, for browsers and
// scripts (docs/http.md): times are RFC 3339 strings in UTC, null when not
// known;
// and a resource's threshold is null when it is off, with the unit of its
// value beside it. Durations stay integer µs, as their _usec keys say.

// statusOf is /api/v1/status: the summary and every list.
func statusOf(st *engine.Status) map[string]any {
	rec := wire.Status(st)
	resources := rec.Resources
	rec.Resources = nil // encoded below, each with its unit
	m := jsonOf(rec).(map[string]any)
	list := make([]any, len(resources))
	for i, r := range resources {
		list[i] = resourceOf(r)
	}
	m["resources"] = list
	return m
}

// resourceOf is a Resource with its threshold null when off and its unit:
// "%", or "" for the load average.
func resourceOf(r client.Resource) map[string]any {
	m := jsonOf(r).(map[string]any)
	if r.Threshold <= 0 {
		m["threshold"] = nil
	}
	m["unit"] = "%"
	if r.Kind == string(issue.Load) {
		m["unit"] = ""
	}
	return m
}

func issuesOf(recs []issue.Record) []any { return listOf(recs, wire.Issue) }

func predictionsOf(fs []predict.Forecast) []any { return listOf(fs, wire.Prediction) }

func historyOf(es []audit.Entry) []any { return listOf(es, wire.History) }

func listOf[T, R any](xs []T, record func(T) R) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = jsonOf(record(x))
	}
	return out
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
)

// jsonOf makes a record, or anything in one, ready for encoding/json:
// a struct becomes an object keyed by its fields' `dbus` tags (embedded
// structs' fields included), a list is never null, a time is in UTC and
// null when zero, a duration is µs.
func jsonOf(x any) any { return jsonValue(reflect.ValueOf(x)) }

func jsonValue(v reflect.Value) any {
	switch v.Type() {
	case timeType:
		if t := v.Interface().(time.Time); !t.IsZero() {
			return t.UTC()
		}
		return nil
	case durationType:
		return time.Duration(v.Int()).Microseconds()
	}
	switch v.Kind() {
	case reflect.Struct:
		m := map[string]any{}
		addFields(m, v)
		return m
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonValue(v.Index(i))
		}
		return out
	}
	return v.Interface()
}

func addFields(m map[string]any, v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		switch f := t.Field(i); {
		case f.Anonymous:
			addFields(m, v.Field(i))
		case f.Tag.Get("dbus") != "":
			m[f.Tag.Get("dbus")] = jsonValue(v.Field(i))
		}
	}
}

// nonNil makes an absent list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
