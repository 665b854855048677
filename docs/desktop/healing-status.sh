#!/bin/sh
# One line about luminous-healingd, for a panel widget that shows a
# command's output: KDE Plasma's "Command Output", Xfce's "Generic
# Monitor", waybar's custom module, … (docs/desktop.md). It reads the
# Health and ActiveIssues properties with busctl, never starts the daemon,
# and exits 0 with "not running" when it is not on the bus.
#   healing-status.sh           the system daemon
#   healing-status.sh --user    luminous-healingd --user (the try-it mode)
set -u
bus=--system
[ "${1:-}" = --user ] && bus=--user
out=$(busctl "$bus" --no-pager --auto-start=no get-property \
	org.luminous.Healing /org/luminous/Healing org.luminous.Healing1 Health ActiveIssues 2>/dev/null) || {
	echo "luminous-healing: not running"
	exit 0
}
# busctl prints one property a line: s "warning" then u 2.
health=$(printf '%s\n' "$out" | sed -n '1s/^s "\(.*\)"$/\1/p')
issues=$(printf '%s\n' "$out" | sed -n '2s/^u //p')
case $issues in
1) echo "luminous-healing: $health, 1 active issue" ;;
*) echo "luminous-healing: $health, $issues active issues" ;;
esac
