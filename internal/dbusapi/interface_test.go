package dbusapi

import (
	"encoding/xml"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

const xmlPath = "../../dbus/org.luminous.Healing1.xml"

// shippedInterface is org.luminous.Healing1 as dbus/ describes it.
func shippedInterface(t *testing.T) introspect.Interface {
	t.Helper()
	data, err := os.ReadFile(xmlPath)
	if err != nil {
		t.Fatal(err)
	}
	var n introspect.Node
	if err := xml.Unmarshal(data, &n); err != nil {
		t.Fatalf("%s: %v", xmlPath, err)
	}
	if n.Name != client.ObjectPath {
		t.Errorf("%s: node name %q; want %q", xmlPath, n.Name, client.ObjectPath)
	}
	for _, i := range n.Interfaces {
		if i.Name == client.Interface {
			return i
		}
	}
	t.Fatalf("%s has no interface %s", xmlPath, client.Interface)
	return introspect.Interface{}
}

// canonical drops what XML parsing and Go declarations spell differently
// (nil vs empty slices) so DeepEqual compares what a client sees.
func canonical(i introspect.Interface) introspect.Interface {
	for k, m := range i.Methods {
		if len(m.Args) == 0 {
			i.Methods[k].Args = nil
		}
		if len(m.Annotations) == 0 {
			i.Methods[k].Annotations = nil
		}
	}
	for k, s := range i.Signals {
		for a := range s.Args {
			i.Signals[k].Args[a].Direction = ""
		}
		if len(s.Annotations) == 0 {
			i.Signals[k].Annotations = nil
		}
	}
	if len(i.Annotations) == 0 {
		i.Annotations = nil
	}
	return i
}

func TestTheDeclaredInterfaceMatchesTheXML(t *testing.T) {
	got, want := canonical(healing1), canonical(shippedInterface(t))
	if !reflect.DeepEqual(got.Methods, want.Methods) {
		t.Errorf("methods differ:\ngot  %+v\nwant %+v", got.Methods, want.Methods)
	}
	if !reflect.DeepEqual(got.Signals, want.Signals) {
		t.Errorf("signals differ:\ngot  %+v\nwant %+v", got.Signals, want.Signals)
	}
	if !reflect.DeepEqual(got.Properties, want.Properties) {
		t.Errorf("properties differ:\ngot  %+v\nwant %+v", got.Properties, want.Properties)
	}
}

// Each method of the XML must have a handler with the same D-Bus
// signature, and the handler type must export nothing else.
func TestHandlersMatchTheXML(t *testing.T) {
	shipped := shippedInterface(t)
	typ := reflect.TypeOf(&api{})
	var handlers []string
	for i := range typ.NumMethod() {
		handlers = append(handlers, typ.Method(i).Name)
	}
	var methods []string
	for _, m := range shipped.Methods {
		methods = append(methods, m.Name)
		h, ok := typ.MethodByName(m.Name)
		if !ok {
			t.Errorf("%s has no handler", m.Name)
			continue
		}
		var gotIn, gotOut, wantIn, wantOut string
		ft := h.Type
		for a := 1; a < ft.NumIn(); a++ { // 0 is the receiver
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
