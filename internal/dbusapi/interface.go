package dbusapi

import (
	"github.com/godbus/dbus/v5/introspect"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// healing1 is the introspection of org.luminous.Healing1. It must match
// dbus/org.luminous.Healing1.xml, the source of truth; TestExportedInterfaceMatchesTheXML
// and TestHandlersMatchTheXML fail when they differ.
var healing1 = introspect.Interface{
	Name: client.Interface,
	Methods: []introspect.Method{
		method("GetStatus", out("status", "a{sv}")),
		method("ListResources", out("resources", "aa{sv}")),
		method("ListUnits", out("units", "aa{sv}")),
		method("ListIssues", out("issues", "aa{sv}")),
		method("GetPredictions", out("predictions", "aa{sv}")),
		method("ListBreakers", out("breakers", "aa{sv}")),
		method("ListThrottles", out("throttles", "aa{sv}")),
		method("GetHistory", in("limit", "u"), out("entries", "aa{sv}")),

		method("Heal", in("issue_id", "s"), out("result", "a{sv}")),
		method("RestartUnit", in("unit", "s"), out("result", "a{sv}")),
		method("Cleanup", out("result", "a{sv}")),
		method("Throttle", in("unit", "s"), out("result", "a{sv}")),
		method("Release", in("unit", "s"), out("result", "a{sv}")),
		method("ResetBreaker", in("issue_id", "s")),

		method("SetDryRun", in("enabled", "b")),
		method("SetHealingEnabled", in("enabled", "b")),
		method("SetThreshold", in("kind", "s"), in("value", "d")),
		method("Reload"),
		method("InjectIssue", in("issue", "a{sv}"), out("record", "a{sv}")),
	},
	Signals: []introspect.Signal{
		signal(client.SignalIssueDetected, "issue"),
		signal(client.SignalIssueChanged, "issue"),
		signal(client.SignalIssueResolved, "issue"),
		signal(client.SignalHealingFailed, "failure"),
		signal(client.SignalPredictionAlert, "prediction"),
		signal(client.SignalActionCompleted, "result"),
	},
	Properties: []introspect.Property{
		property(client.PropVersion, "s"),
		property(client.PropHealth, "s"),
		property(client.PropDryRun, "b"),
		property(client.PropHealingEnabled, "b"),
		property(client.PropActiveIssues, "u"),
		property(client.PropLastCheck, "t"),
		property(client.PropMonitoredUnits, "as"),
	},
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

func signal(name, arg string) introspect.Signal {
	return introspect.Signal{Name: name, Args: []introspect.Arg{{Name: arg, Type: "a{sv}"}}}
}

func property(name, typ string) introspect.Property {
	return introspect.Property{Name: name, Type: typ, Access: "read", Annotations: []introspect.Annotation{
		{Name: "org.freedesktop.DBus.Property.EmitsChangedSignal", Value: "true"},
	}}
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
