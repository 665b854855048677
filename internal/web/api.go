package web

import (
	"github.com/luminous-healing/luminous-healing/internal/audit"
	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/engine"
	"github.com/luminous-healing/luminous-healing/internal/issue"
	"github.com/luminous-healing/luminous-healing/internal/predict"
	"github.com/luminous-healing/luminous-healing/internal/wire"
)

// The HTTP API serves the D-Bus API's records (internal/client, built from
// the engine by internal/wire), encoded by client.JSON from their `dbus`
// tags, so the keys are the same on both. Two deliberate differences, for
// browsers and scripts (docs/http.md): times are RFC 3339 strings in UTC,
// null when not known (client.JSON); and a resource's threshold is null
// when it is off, with the unit of its value beside it (resourceOf).
// Durations stay integer µs, as their _usec keys say.

// statusOf is /api/v1/status: the summary and every list.
func statusOf(st *engine.Status) map[string]any {
	rec := wire.Status(st)
	resources := rec.Resources
	rec.Resources = nil // encoded below, each with its unit
	m := client.JSON(rec)
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
	m := client.JSON(r)
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
		out[i] = client.JSON(record(x))
	}
	return out
}

// nonNil makes an absent list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
