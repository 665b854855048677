package dbusapi_test

import (
	"encoding/xml"
	"os"
	"strings"
	"testing"

	"github.com/luminous-healing/luminous-healing/internal/client"
)

// The install files in dbus/ and polkit/ name what internal/client names.

func TestThePolkitPolicyHasBothActionsAndNeverSaysYes(t *testing.T) {
	data, err := os.ReadFile("../../polkit/org.luminous.healing.policy")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Actions []struct {
			ID       string `xml:"id,attr"`
			Defaults struct {
				Any      string `xml:"allow_any"`
				Inactive string `xml:"allow_inactive"`
				Active   string `xml:"allow_active"`
			} `xml:"defaults"`
		} `xml:"action"`
	}
	if err := xml.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{client.ActionHeal: "auth_admin_keep", client.ActionDevelop: "auth_admin"}
	if len(p.Actions) != len(want) {
		t.Errorf("%d actions; want %d", len(p.Actions), len(want))
	}
	for _, a := range p.Actions {
		d := a.Defaults
		if w, ok := want[a.ID]; !ok || d.Any != w || d.Inactive != w || d.Active != w {
			t.Errorf("action %s defaults %+v; want %q everywhere", a.ID, d, want[a.ID])
		}
	}
}

func TestTheExampleRulesGrantHealToWheelOnly(t *testing.T) {
	data, err := os.ReadFile("../../polkit/org.luminous.healing.rules")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{`ADMIN_GROUP = "wheel"`, `action.id == "` + client.ActionHeal + `"`, "polkit.Result.YES"} {
		if !strings.Contains(s, want) {
			t.Errorf("rules lack %s", want)
		}
	}
	if strings.Contains(strings.ReplaceAll(s, "// ", ""), `"`+client.ActionDevelop+`"`) {
		t.Errorf("the example rules must not grant %s", client.ActionDevelop)
	}
}

func TestTheBusFilesNameTheDaemon(t *testing.T) {
	conf, err := os.ReadFile("../../dbus/org.luminous.Healing.conf")
	if err != nil {
		t.Fatal(err)
	}
	var bc struct {
		Policies []struct {
			User    string `xml:"user,attr"`
			Context string `xml:"context,attr"`
			Allow   []struct {
				Own  string `xml:"own,attr"`
				Send string `xml:"send_destination,attr"`
			} `xml:"allow"`
		} `xml:"policy"`
	}
	if err := xml.Unmarshal(conf, &bc); err != nil {
		t.Fatal(err)
	}
	owners := map[string]bool{}
	senders := map[string]bool{}
	for _, p := range bc.Policies {
		who := p.User + p.Context
		for _, a := range p.Allow {
			if a.Own != "" {
				owners[who] = a.Own == client.BusName
			}
			if a.Send == client.BusName {
				senders[who] = true
			}
		}
	}
	if len(owners) != 1 || !owners["root"] {
		t.Errorf("owners %v; want root only", owners)
	}
	if !senders["default"] {
		t.Errorf("everyone may not send to %s", client.BusName)
	}
	svc, err := os.ReadFile("../../dbus/org.luminous.Healing.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Name=" + client.BusName, "Exec=/bin/false", "SystemdService=dbus-org.luminous.Healing.service"} {
		if !strings.Contains(string(svc), "\n"+want+"\n") {
			t.Errorf("activation file lacks %s", want)
		}
	}
	unit, err := os.ReadFile("../../cmd/luminous-healingd/luminous-healing.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"BusName=" + client.BusName, "Alias=dbus-org.luminous.Healing.service"} {
		if !strings.Contains(string(unit), "\n"+want+"\n") {
			t.Errorf("luminous-healing.service lacks %s", want)
		}
	}
}
