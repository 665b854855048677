package systemd

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseJournalJSONKeepsTheLastLinesClean(t *testing.T) {
	in := strings.Join([]string{
		`{"MESSAGE":"one"}`,
		`{"MESSAGE":"two"}`,
		`not json`,
		`{"MESSAGE":"three\u001b[31m red"}`,
		`{"MESSAGE":[98,105,110,100,255]}`,
		`{"MESSAGE":null}`,
		`{"MESSAGE":"four\nfive"}`,
		`{"MESSAGE":"` + strings.Repeat("x", 500) + `"}`,
	}, "\n")
	got, err := parseJournalJSON(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"two", "three [31m red", "bind?", "four five", strings.Repeat("x", 197) + "…"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines = %q; want %q", got, want)
	}
}

// A fake journalctl: Tail's arguments and bounds, without a journal.
func TestJournalTailRunsJournalctlBounded(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "journalctl")
	os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" > "+filepath.Join(dir, "args")+"\necho '{\"MESSAGE\":\"bind() to :443 failed: address in use\"}'\n"), 0o755)
	got, err := Journal{Command: script}.Tail(t.Context(), "web.service", "0123abcd")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []string{"bind() to :443 failed: address in use"}) {
		t.Errorf("lines = %q", got)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	if want := "--no-pager --quiet --output=json --output-fields=MESSAGE --lines=5 _SYSTEMD_INVOCATION_ID=0123abcd\n"; string(args) != want {
		t.Errorf("journalctl %s; want %s", args, want)
	}
	if _, err := (Journal{Command: script}).Tail(t.Context(), "web.service", "x=y"); err == nil {
		t.Errorf("an invocation id with = was accepted as a journal match")
	}
}
