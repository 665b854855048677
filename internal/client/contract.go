// Package client is the typed Go client of luminous-healingd's D-Bus API and
// the one place its wire contract lives: the bus, object, interface, method,
// signal and error names, the polkit action ids, and every record: its
// struct is its one definition, whose tags give the keys that the codec
// (codec.go) encodes as a{sv} for D-Bus and as JSON for the HTTP API.
// dbus/org.luminous.Healing1.xml, docs/dbus.md and docs/http.md describe the
// same contract for other languages.
//
// healingctl, both transports (internal/dbusapi and internal/web, through
// internal/wire) and the tests import it. It imports godbus and, of this
// module, only the leaf internal/printable, so a client never links the
// daemon.
package client

// Names on the bus.
const (
	// BusName is the well-known name the daemon owns.
	BusName = "org.luminous.Healing"
	// ObjectPath is the daemon's one object.
	ObjectPath = "/org/luminous/Healing"
	// Interface is the API; the 1 is its major version.
	Interface = "org.luminous.Healing1"
)

// polkit action ids. Service mode heals; development mode changes how the
// daemon behaves or acts on units it does not monitor.
const (
	ActionHeal    = "org.luminous.healing.heal"
	ActionDevelop = "org.luminous.healing.develop"
)

// Methods of Interface.
const (
	MethodGetStatus         = Interface + ".GetStatus"
	MethodListIssues        = Interface + ".ListIssues"
	MethodGetPredictions    = Interface + ".GetPredictions"
	MethodGetHistory        = Interface + ".GetHistory"
	MethodListResources     = Interface + ".ListResources"
	MethodListUnits         = Interface + ".ListUnits"
	MethodListBreakers      = Interface + ".ListBreakers"
	MethodListThrottles     = Interface + ".ListThrottles"
	MethodHeal              = Interface + ".Heal"
	MethodRestartUnit       = Interface + ".RestartUnit"
	MethodCleanup           = Interface + ".Cleanup"
	MethodThrottle          = Interface + ".Throttle"
	MethodRelease           = Interface + ".Release"
	MethodResetBreaker      = Interface + ".ResetBreaker"
	MethodSetDryRun         = Interface + ".SetDryRun"
	MethodSetHealingEnabled = Interface + ".SetHealingEnabled"
	MethodSetThreshold      = Interface + ".SetThreshold"
	MethodReload            = Interface + ".Reload"
	MethodInjectIssue       = Interface + ".InjectIssue"
	MethodListSilences      = Interface + ".ListSilences"
	MethodAddSilence        = Interface + ".AddSilence"
	MethodRemoveSilence     = Interface + ".RemoveSilence"
	MethodListProbes        = Interface + ".ListProbes"
	MethodRunProbe          = Interface + ".RunProbe"
)

// Signals of Interface, by member name. Each carries one a{sv} record.
const (
	SignalIssueDetected   = "IssueDetected"   // an Issue
	SignalIssueChanged    = "IssueChanged"    // an Issue whose severity or state changed
	SignalIssueResolved   = "IssueResolved"   // an Issue, state "resolved"
	SignalHealingFailed   = "HealingFailed"   // a Failure
	SignalPredictionAlert = "PredictionAlert" // a Prediction
	SignalActionCompleted = "ActionCompleted" // an ActionResult, automatic or asked for
)

// Properties of Interface. All are read-only and emit PropertiesChanged.
const (
	PropVersion        = "Version"        // s
	PropHealth         = "Health"         // s: ok, warning or critical
	PropDryRun         = "DryRun"         // b
	PropHealingEnabled = "HealingEnabled" // b
	PropActiveIssues   = "ActiveIssues"   // u
	PropLastCheck      = "LastCheck"      // t: µs since the epoch, 0 before the first check
	PropMonitoredUnits = "MonitoredUnits" // as
	PropActiveSilences = "ActiveSilences" // u: silences and maintenance windows in force
)

// Error names. The daemon's own errors carry one human line meant for the
// caller; the two standard names are polkit's denials.
const (
	ErrorInvalidArgument = Interface + ".Error.InvalidArgument"
	ErrorNotFound        = Interface + ".Error.NotFound"
	ErrorRateLimited     = Interface + ".Error.RateLimited"
	ErrorUnavailable     = Interface + ".Error.Unavailable"
	ErrorActionFailed    = Interface + ".Error.ActionFailed"

	ErrorAccessDenied                     = "org.freedesktop.DBus.Error.AccessDenied"
	ErrorInteractiveAuthorizationRequired = "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"
)

// Limits the daemon enforces on arguments, so clients can check early.
const (
	// MaxStringLen bounds every string argument, in bytes.
	MaxStringLen = 4096
	// MaxHistory is the largest GetHistory limit; 0 asks for all of it.
	MaxHistory = 10000
)
