package dbusapi

import (
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// The names the client and the server use for signals and properties are
// the XML's, no more and no fewer.
func TestTheClientsNamesMatchTheXML(t *testing.T) {
	var signals, props []string
	for _, s := range healing1.Signals {
		signals = append(signals, s.Name)
		if len(s.Args) != 1 || s.Args[0].Type != "a{sv}" {
			t.Errorf("signal %s carries %+v; want one a{sv} record", s.Name, s.Args)
		}
	}
	for _, p := range healing1.Properties {
		props = append(props, p.Name)
		if p.Access != "read" || len(p.Annotations) != 1 || p.Annotations[0].Value != "true" {
			t.Errorf("property %s: access %q, annotations %+v; want read-only, EmitsChangedSignal true", p.Name, p.Access, p.Annotations)
		}
	}
	wantSignals := []string{client.SignalIssueDetected, client.SignalIssueChanged, client.SignalIssueResolved,
		client.SignalHealingFailed, client.SignalPredictionAlert, client.SignalActionCompleted}
	if !slices.Equal(slices.Sorted(slices.Values(signals)), slices.Sorted(slices.Values(wantSignals))) {
		t.Errorf("the XML's signals %v; the client's %v", signals, wantSignals)
	}
	served := slices.Sorted(maps.Keys(client.Properties(client.Encode(client.Summary{}))))
	if !slices.Equal(slices.Sorted(slices.Values(props)), served) {
		t.Errorf("the XML's properties %v; the server serves %v", props, served)
	}
}

// Each method of the XML must have a handler with the same D-Bus
// signature, and the server must export nothing else.
func TestHandlersMatchTheXML(t *testing.T) {
	shipped := healing1
	table := (&Server{}).handlers()
	handlers := slices.Collect(maps.Keys(table))
	var methods []string
	for _, m := range shipped.Methods {
		methods = append(methods, m.Name)
		h, ok := table[m.Name]
		if !ok {
			t.Errorf("%s has no handler", m.Name)
			continue
		}
		var gotIn, gotOut, wantIn, wantOut string
		ft := reflect.TypeOf(h)
		for a := 0; a < ft.NumIn(); a++ {
			switch ft.In(a) {
			case reflect.TypeOf(dbus.Sender("")), reflect.TypeOf(dbus.Message{}):
				continue
			}
			gotIn += dbus.SignatureOfType(ft.In(a)).String()
		}
		for a := 0; a < ft.NumOut(); a++ {
			if ft.Out(a) == reflect.TypeOf(&dbus.Error{}) {
				continue
			}
			gotOut += dbus.SignatureOfType(ft.Out(a)).String()
		}
		for _, a := range m.Args {
			if a.Direction == "in" {
				wantIn += a.Type
			} else {
				wantOut += a.Type
			}
		}
		if gotIn != wantIn || gotOut != wantOut {
			t.Errorf("%s handler takes (%s) and returns (%s); the XML says (%s) → (%s)", m.Name, gotIn, gotOut, wantIn, wantOut)
		}
		if ft.Out(ft.NumOut()-1) != reflect.TypeOf(&dbus.Error{}) {
			t.Errorf("%s handler does not return *dbus.Error last", m.Name)
		}
	}
	slices.Sort(handlers)
	slices.Sort(methods)
	if !slices.Equal(handlers, methods) {
		t.Errorf("the handler exports %v; the XML has %v", handlers, methods)
	}
}
