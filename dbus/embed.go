// Package dbus embeds the D-Bus interface description that this directory
// ships, so that luminous-healingd exports exactly the file it installs.
// Only internal/dbusapi imports it.
package dbus

import _ "embed"

// Healing1 is org.luminous.Healing1.xml: the API's source of truth.
//
//go:embed org.luminous.Healing1.xml
var Healing1 []byte
