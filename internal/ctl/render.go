package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

// JSON output is the D-Bus records themselves: the same snake_case keys,
// times in µs since the epoch, so scripts read one contract everywhere.

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(plain(v))
}

// plain turns records and variants into values encoding/json can write.
func plain(v any) any {
	switch x := v.(type) {
	case dbus.Variant:
		return plain(x.Value())
	case map[string]dbus.Variant:
		m := make(map[string]any, len(x))
		for k, val := range x {
			m[k] = plain(val)
		}
		return m
	case []map[string]dbus.Variant:
		l := make([]any, len(x))
		for i, val := range x {
			l[i] = plain(val)
		}
		return l
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	}
	if v != nil && reflect.TypeOf(v).Kind() == reflect.Struct {
		return plain(client.Encode(v)) // a record
	}
	return v
}

// records encodes a list of records for JSON.
func records[T any](xs []T) []map[string]dbus.Variant {
	return client.Maps(xs)
}

// table writes aligned columns; the header is upper case.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cols ...string) { fmt.Fprintln(t.tw, strings.Join(cols, "\t")) }

func (t *table) flush() { t.tw.Flush() }

// clock is healingctl's idea of now, which ages and countdowns count
// from; the golden tests fix it.
var clock = time.Now

// ago formats a past time relative to now.
func ago(t time.Time) string { return show.Ago(t, clock()) }

// in formats a future time relative to now.
func in(t time.Time) string { return show.In(t, clock()) }
