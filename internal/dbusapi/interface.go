package dbusapi

import (
	"encoding/xml"

	"github.com/godbus/dbus/v5/introspect"

	shipped "github.com/luminous-healing/luminous-healing/dbus"
	"github.com/luminous-healing/luminous-healing/internal/client"
)

// healing1 is org.luminous.Healing1 as dbus/org.luminous.Healing1.xml, the
// source of truth, declares it: the daemon exports the file it installs.
// TestHandlersMatchTheXML fails when a handler does not fit it.
var healing1 = shippedInterface(shipped.Healing1)

// shippedInterface parses the interface XML; it is compiled in, so a
// parse failure is a build defect.
func shippedInterface(data []byte) introspect.Interface {
	var n introspect.Node
	if err := xml.Unmarshal(data, &n); err != nil {
		panic("dbusapi: dbus/org.luminous.Healing1.xml: " + err.Error())
	}
	if n.Name != client.ObjectPath {
		panic("dbusapi: dbus/org.luminous.Healing1.xml describes " + n.Name + ", not " + client.ObjectPath)
	}
	for _, i := range n.Interfaces {
		if i.Name == client.Interface {
			return i
		}
	}
	panic("dbusapi: dbus/org.luminous.Healing1.xml lacks " + client.Interface)
}

func method(name string, args ...introspect.Arg) introspect.Method {
	return introspect.Method{Name: name, Args: args}
}

func in(name, typ string) introspect.Arg {
	return introspect.Arg{Name: name, Type: typ, Direction: "in"}
}
func out(name, typ string) introspect.Arg {
	return introspect.Arg{Name: name, Type: typ, Direction: "out"}
}

// propertiesInterface is org.freedesktop.DBus.Properties as the daemon
// implements it (godbus's introspect package has no ready-made one with the
// signal).
var propertiesInterface = introspect.Interface{
	Name: "org.freedesktop.DBus.Properties",
	Methods: []introspect.Method{
		method("Get", in("interface_name", "s"), in("property_name", "s"), out("value", "v")),
		method("GetAll", in("interface_name", "s"), out("props", "a{sv}")),
		method("Set", in("interface_name", "s"), in("property_name", "s"), in("value", "v")),
	},
	Signals: []introspect.Signal{{Name: "PropertiesChanged", Args: []introspect.Arg{
		{Name: "interface_name", Type: "s"}, {Name: "changed_properties", Type: "a{sv}"}, {Name: "invalidated_properties", Type: "as"},
	}}},
}

// node is what Introspect returns for the daemon's object.
func node() *introspect.Node {
	return &introspect.Node{
		Name:       client.ObjectPath,
		Interfaces: []introspect.Interface{introspect.IntrospectData, introspect.PeerData, propertiesInterface, healing1},
	}
}
