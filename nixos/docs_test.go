package nixos

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the options table in docs/nixos.md from the module")

const (
	docsPath     = "../docs/nixos.md"
	tableBegin   = "<!-- options table: generated from nixos/modules/luminous-healing.nix by `go test ./nixos -run TestDocs -update` -->\n"
	tableEnd     = "<!-- end of options table -->\n"
	optionPrefix = "services.luminous-healing."
)

type option struct {
	Name, Type, Description string
	Default                 *string
}

// The options table in docs/nixos.md is the module's, so the two cannot
// drift apart.
func TestDocsOptionsTableIsCurrent(t *testing.T) {
	out, err := evalNix(t, "--argstr", "what", "options")
	if err != nil {
		t.Fatalf("list the module's options: %v", err)
	}
	var opts []option
	if err := json.Unmarshal(out, &opts); err != nil {
		t.Fatal(err)
	}
	table := optionsTable(opts)

	doc, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	i, j := strings.Index(text, tableBegin), strings.Index(text, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no options table between\n%s and\n%s", docsPath, tableBegin, tableEnd)
	}
	current := text[i+len(tableBegin) : j]
	if current == table {
		return
	}
	if *update {
		if err := os.WriteFile(docsPath, []byte(text[:i+len(tableBegin)]+table+text[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the options table in %s is not the module's; run go test ./nixos -run TestDocs -update\ngot:\n%s\nwant:\n%s", docsPath, current, table)
}

var optionRole = regexp.MustCompile("\\{option\\}`([^`]*)`")

func optionsTable(opts []option) string {
	var b strings.Builder
	b.WriteString("| option (under `services.luminous-healing`) | type | default | what it does |\n|---|---|---|---|\n")
	for _, o := range opts {
		def := "—"
		if o.Default != nil {
			def = "`" + *o.Default + "`"
		}
		// The first paragraph, on one line.
		desc, _, _ := strings.Cut(strings.TrimSpace(o.Description), "\n\n")
		desc = optionRole.ReplaceAllString(desc, "`$1`")
		desc = strings.Join(strings.Fields(desc), " ")
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", strings.TrimPrefix(o.Name, optionPrefix),
			cell(o.Type), cell(def), cell(desc))
	}
	return b.String()
}

func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ")
}
