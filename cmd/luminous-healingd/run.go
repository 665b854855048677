package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // a runtime failure: systemd restarts the service
	exitUsage   = 2 // bad flags or a bad configuration file
)

// usageError marks errors that are the invoker's to fix.
type usageError struct{ error }

func run(args []string) int {
	err := newApp().Run(args)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(os.Stderr, "luminous-healingd: %v\nRun 'luminous-healingd --help' for usage.\n", err)
		return exitUsage
	default:
		fmt.Fprintf(os.Stderr, "luminous-healingd: %v\n", err)
		return exitFailure
	}
}

// newApp is the command line: what run parses and what the man page
// luminous-healingd(8) is generated from (man_test.go).
func newApp() *cli.App {
	app := &cli.App{
		Name:  "luminous-healingd",
		Usage: "watch this machine, heal it through systemd, predict trouble",
		Description: "Runs as root under systemd as luminous-healing.service and owns org.luminous.Healing on the\n" +
			"system bus. Try it without root or installing anything:\n\n" +
			"   luminous-healingd --user\n\n" +
			"which reads this machine, serves the same D-Bus API on your session bus and only plans actions.",
		Version:         version,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "configuration `FILE` (default " + config.DefaultPath + "; with --user, the embedded default)"},
			&cli.BoolFlag{Name: "user", Usage: "try-it mode: no root, session bus, embedded default configuration, dry-run always on"},
			&cli.StringFlag{Name: "state-dir", Usage: "state `DIR` (default $STATE_DIRECTORY, else /var/lib/luminous-healing; with --user, $XDG_STATE_HOME/luminous-healing)"},
			&cli.DurationFlag{Name: "interval", Usage: "override monitoring.interval: a `DURATION` such as 10s", DefaultText: "60s; with --user, 5s"},
			&cli.StringFlag{Name: "listen", Usage: "override monitoring.listen, the HTTP `ADDRESS` (\"\" turns the listener off)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "`LEVEL`: debug, info, warn or error"},
			&cli.BoolFlag{Name: "check-config", Usage: "validate the configuration, print it as understood, and exit"},
		},
		Action:         daemonMain,
		Commands:       []*cli.Command{nixCleanupCommand},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error { return usageError{err} }
	return app
}

// options are the flags, resolved against the mode's defaults.
type options struct {
	user       bool
	configPath string // "" = embedded default
	stateDir   string
	interval   time.Duration
	listen     *string
	logLevel   slog.Level
	check      bool
}

func parseOptions(c *cli.Context) (options, error) {
	o := options{user: c.Bool("user"), configPath: c.String("config"), stateDir: c.String("state-dir"),
		interval: c.Duration("interval"), check: c.Bool("check-config")}
	if c.NArg() > 0 {
		return o, usageError{fmt.Errorf("unexpected argument %q", c.Args().First())}
	}
	if err := o.logLevel.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return o, usageError{fmt.Errorf("--log-level: want debug, info, warn or error, got %q", c.String("log-level"))}
	}
	if c.IsSet("listen") {
		l := c.String("listen")
		o.listen = &l
	}
	if c.IsSet("interval") && (o.interval < 100*time.Millisecond || o.interval > 24*time.Hour) {
		return o, usageError{fmt.Errorf("--interval: must be between 100ms and 24h, got %s", o.interval)}
	}
	if !c.IsSet("config") && !o.user {
		o.configPath = config.DefaultPath
	}
	if o.stateDir == "" {
		o.stateDir = defaultStateDir(o.user)
	}
	if o.user && o.interval == 0 {
		o.interval = 5 * time.Second
	}
	return o, nil
}

func defaultStateDir(user bool) string {
	if !user {
		if d := os.Getenv("STATE_DIRECTORY"); d != "" {
			return filepath.SplitList(d)[0]
		}
		return "/var/lib/luminous-healing"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "luminous-healing")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), fmt.Sprintf("luminous-healing-%d", os.Getuid()))
	}
	return filepath.Join(home, ".local", "state", "luminous-healing")
}

// loadConfig reads the configuration and applies the flags' overrides.
func loadConfig(o options) (*config.Config, error) {
	var cfg *config.Config
	var err error
	if o.configPath == "" {
		cfg, err = config.Parse(config.DefaultTOML)
	} else {
		cfg, err = config.Load(o.configPath)
	}
	if err != nil {
		return nil, usageError{err}
	}
	o.amend(cfg)
	return cfg, nil
}

// amend applies the command line's overrides to a configuration, at start
// and on every reload.
func (o options) amend(cfg *config.Config) {
	if o.interval != 0 {
		cfg.Monitoring.Interval = config.Duration(o.interval)
	}
	if o.listen != nil {
		cfg.Monitoring.Listen = *o.listen
	}
	if o.user {
		cfg.Healing.DryRun = true
	}
}

func daemonMain(c *cli.Context) error {
	o, err := parseOptions(c)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(o)
	if err != nil {
		return err
	}
	if o.check {
		return printConfig(os.Stdout, o, cfg)
	}
	log := newLogger(os.Stderr, o.logLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	tuneRuntime()
	defer startProfiles(ctx, log)()
	return serve(ctx, o, cfg, log)
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if os.Getenv("JOURNAL_STREAM") != "" {
		// The journal stamps every line itself.
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func printConfig(w io.Writer, o options, cfg *config.Config) error {
	src := o.configPath
	if src == "" {
		src = "embedded default"
	}
	fmt.Fprintf(w, "# %s: OK\n", src)
	return config.Write(w, cfg)
}
