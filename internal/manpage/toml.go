package manpage

import (
	"regexp"
	"strings"
)

// A commented default configuration file, read as documentation:
//
//	# luminous-healing configuration — …     the file's heading: skipped
//	#                                        (the lines up to the first
//	# Every key below shows its default …    blank one after it are the
//	                                         introduction)
//	[section]   # what the section is        a subsection
//	# Prose about the next key.              the next key's text
//	key = value   # what it is               a key with its default
//	              # … continued              more of the key's text
//	# key = value  # what it is              a key left out by default
//	# [[table]]  # what one is               an array of tables none of
//	                                         which is there by default
var (
	sectionLine = regexp.MustCompile(`^\[([a-z_.]+)\]\s*(?:#\s?(.*))?$`)
	arrayLine   = regexp.MustCompile(`^#?\s*\[\[([a-z_.]+)\]\]\s*(?:#\s?(.*))?$`)
	keyLine     = regexp.MustCompile(`^(#\s*)?([a-z_]+)\s*=\s*(.*)$`)
	moreLine    = regexp.MustCompile(`^\s+#\s?(.*)$`)
)

// ConfigFile reads a commented TOML file: the introduction (the comment
// block at its top, without its first line) and one subsection per table,
// with an item per key: its name, its default ("left out" for a key shown
// only in a comment) and its comments.
func ConfigFile(toml []byte) (intro string, tables []Section) {
	lines := strings.Split(string(toml), "\n")
	i := 0
	var introLines []string
	for ; i < len(lines) && strings.HasPrefix(lines[i], "#"); i++ {
		if i > 0 {
			introLines = append(introLines, strings.TrimPrefix(strings.TrimPrefix(lines[i], "#"), " "))
		}
	}
	intro = strings.TrimSpace(strings.Join(introLines, "\n"))

	var prose []string // comment lines waiting for the key they describe
	var table *Section
	var last *Item
	for ; i < len(lines); i++ {
		l := lines[i]
		if m := sectionLine.FindStringSubmatch(l); m != nil {
			tables = append(tables, Section{Title: "[" + m[1] + "]", Text: m[2]})
			table, last, prose = &tables[len(tables)-1], nil, nil
			continue
		}
		if m := arrayLine.FindStringSubmatch(l); m != nil {
			tables = append(tables, Section{Title: "[[" + m[1] + "]]", Text: joinText(strings.Join(prose, " "), m[2])})
			table, last, prose = &tables[len(tables)-1], nil, nil
			continue
		}
		if table == nil {
			continue
		}
		if m := moreLine.FindStringSubmatch(l); m != nil && last != nil {
			last.Text = joinText(last.Text, m[1])
			continue
		}
		if m := keyLine.FindStringSubmatch(l); m != nil {
			value, comment := splitComment(m[3])
			it := Item{Term: B(m[2])}
			text := strings.Join(prose, " ")
			if m[1] != "" { // commented out: left out by default
				text = joinText(text, comment)
				it.after = "Left out by default; for example: " + m[2] + " = " + value + "."
			} else {
				it.Term += " = " + Escape(value)
				text = joinText(text, comment)
			}
			it.Text = text
			table.Items = append(table.Items, it)
			last, prose = &table.Items[len(table.Items)-1], nil
			continue
		}
		if c, ok := strings.CutPrefix(l, "#"); ok {
			prose = append(prose, strings.TrimSpace(c))
			last = nil
			continue
		}
		if strings.TrimSpace(l) == "" {
			last = nil
			if len(prose) > 0 { // a comment about the table, not a key
				table.Text = joinText(table.Text, strings.Join(prose, " "))
				prose = nil
			}
		}
	}
	for i := range tables {
		for j := range tables[i].Items {
			it := &tables[i].Items[j]
			if it.after != "" {
				it.Text, it.after = strings.TrimSpace(it.Text+"\n\n"+it.after), ""
			}
		}
	}
	return intro, tables
}

// splitComment splits a TOML value from the comment after it, minding
// quoted strings.
func splitComment(s string) (value, comment string) {
	inString := false
	for i, r := range s {
		switch {
		case r == '"':
			inString = !inString
		case r == '#' && !inString:
			return strings.TrimSpace(s[:i]), strings.TrimSpace(strings.TrimPrefix(s[i+1:], " "))
		}
	}
	return strings.TrimSpace(s), ""
}

func joinText(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}
