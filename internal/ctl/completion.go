package ctl

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/client"
	"github.com/luminous-healing/luminous-healing/internal/ctl/show"
)

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "make install puts them where the shells look. By hand:\n" +
			"   healingctl completion bash > /etc/bash_completion.d/healingctl\n" +
			"   healingctl completion zsh > \"${fpath[1]}/_healingctl\"\n" +
			"   healingctl completion fish > ~/.config/fish/completions/healingctl.fish",
		Action: func(c *cli.Context) error {
			a, err := args(c, "shell")
			if err != nil {
				return err
			}
			switch a[0] {
			case "bash":
				_, err = fmt.Fprint(c.App.Writer, bashCompletion)
			case "zsh":
				_, err = fmt.Fprint(c.App.Writer, zshCompletion)
			case "fish":
				var s string
				if s, err = c.App.ToFishCompletion(); err == nil {
					_, err = fmt.Fprint(c.App.Writer, s)
				}
			default:
				return show.Usagef("completion for %q: want bash, zsh or fish", a[0])
			}
			return err
		},
		BashComplete: func(c *cli.Context) {
			if c.NArg() == 0 {
				fmt.Fprintln(c.App.Writer, "bash\nzsh\nfish")
			}
		},
	}
}

// Completions of a command's one argument, asked of the running daemon.
var (
	completeIssues = completeFrom(func(ctx context.Context, cl *client.Client) ([]string, error) {
		is, err := cl.Issues(ctx)
		return names(is, func(i client.Issue) string { return i.ID }), err
	})
	completeUnits = completeFrom(func(ctx context.Context, cl *client.Client) ([]string, error) {
		st, err := cl.Summary(ctx)
		return st.MonitoredUnits, err
	})
	completeThrottled = completeFrom(func(ctx context.Context, cl *client.Client) ([]string, error) {
		ts, err := cl.Throttles(ctx)
		return names(ts, func(t client.Throttle) string { return t.Unit }), err
	})
)

// completeFrom offers what list returns, one per line, while no argument
// is given yet; an unreachable daemon offers nothing.
func completeFrom(list func(context.Context, *client.Client) ([]string, error)) cli.BashCompleteFunc {
	return func(c *cli.Context) {
		if c.NArg() > 0 {
			return
		}
		e := newEnv(c)
		_ = e.read(c, func(ctx context.Context, cl *client.Client) error {
			ns, err := list(ctx, cl)
			for _, n := range ns {
				fmt.Fprintln(e.stdout, n)
			}
			return err
		})
	}
}

func names[T any](xs []T, name func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = name(x)
	}
	return out
}

// The scripts ask healingctl itself (urfave/cli's --generate-bash-completion),
// so completions of issue ids and units come from the running daemon.
const bashCompletion = `# bash completion for healingctl
_healingctl() {
  local cur words cword
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion -n "=:" || return
  else
    COMPREPLY=(); cur="${COMP_WORDS[COMP_CWORD]}"; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
  fi
  local opts
  if [[ "$cur" == -* ]]; then
    opts=$("${words[@]:0:$cword}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]:0:$cword}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o bashdefault -o default -F _healingctl healingctl
`

const zshCompletion = `#compdef healingctl
_healingctl() {
  local -a opts
  local cur=${words[-1]}
  if [[ "$cur" == -* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _healingctl healingctl
`
