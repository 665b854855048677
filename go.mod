module github.com/luminous-healing/luminous-healing

go 1.26

require github.com/BurntSushi/toml v1.6.0

require (
	github.com/coreos/go-systemd/v22 v22.7.0 // indirect
	github.com/godbus/dbus/v5 v5.2.4 // indirect
	golang.org/x/sys v0.27.0 // indirect
)
