package manpage

import (
	"regexp"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// FromApp is the page of a urfave/cli app: NAME from its Usage, DESCRIPTION
// from its Description, OPTIONS from its flags, COMMANDS from its visible
// commands and their flags and subcommands, then the extra sections.
// Flags named in skipFlags (the global flags every command repeats) are
// listed once, under OPTIONS.
func FromApp(app *cli.App, section, manual string, synopsis []string, skipFlags []string, extra ...Section) *Page {
	p := &Page{Name: app.Name, Section: section, Manual: manual, Summary: app.Usage, Synopsis: synopsis}
	if app.Description != "" {
		p.Sections = append(p.Sections, Section{Title: "Description", Text: app.Description})
	}
	if items := flagItems(app.Flags, nil); len(items) > 0 {
		p.Sections = append(p.Sections, Section{Title: "Options", Items: items})
	}
	if items := commandItems(app.Commands, skipFlags); len(items) > 0 {
		p.Sections = append(p.Sections, Section{Title: "Commands", Items: items})
	}
	p.Sections = append(p.Sections, extra...)
	return p
}

func commandItems(cmds []*cli.Command, skipFlags []string) []Item {
	var items []Item
	for _, c := range cmds {
		if c.Hidden || c.Name == "help" {
			continue
		}
		term := B(c.Name)
		for _, a := range c.Aliases {
			term += ", " + B(a)
		}
		if c.ArgsUsage != "" {
			term += " " + I(c.ArgsUsage)
		}
		text := c.Usage
		if c.Description != "" {
			text += "\n\n" + c.Description
		}
		items = append(items, Item{Term: term, Text: text, Items: flagItems(c.Flags, skipFlags)})
		for _, sub := range commandItems(c.Subcommands, skipFlags) {
			sub.Term = B(c.Name) + " " + sub.Term
			items = append(items, sub)
		}
	}
	return items
}

var placeholder = regexp.MustCompile("`([^`]*)`")

// flagItems are the flags as --help shows them: names, the placeholder
// the usage text quotes in backticks, the usage, and the default.
func flagItems(flags []cli.Flag, skip []string) []Item {
	var items []Item
	for _, f := range flags {
		names := f.Names()
		if slices.Contains(skip, names[0]) {
			continue
		}
		d, ok := f.(cli.DocGenerationFlag)
		if !ok {
			continue
		}
		usage := d.GetUsage()
		arg := ""
		if m := placeholder.FindStringSubmatch(usage); m != nil {
			arg = m[1]
			usage = strings.Replace(usage, m[0], m[1], 1)
		} else if d.TakesValue() {
			arg = "value"
		}
		var terms []string
		for _, n := range names {
			dash := "--"
			if len(n) == 1 {
				dash = "-"
			}
			t := B(dash + n)
			if d.TakesValue() {
				t += " " + I(arg)
			}
			terms = append(terms, t)
		}
		def := d.GetDefaultText()
		if def == "" && d.TakesValue() {
			def = d.GetValue()
			if def == `""` {
				def = ""
			}
		}
		// A switch is off unless given: --help's "(default: false)" says
		// nothing a reader needs.
		if def != "" && (d.TakesValue() || def != "false") {
			usage += " (default: " + def + ")"
		}
		items = append(items, Item{Term: strings.Join(terms, ", "), Text: usage})
	}
	return items
}
