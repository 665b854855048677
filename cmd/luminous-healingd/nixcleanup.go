package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/luminous-healing/luminous-healing/internal/config"
	"github.com/luminous-healing/luminous-healing/internal/heal"
	"github.com/luminous-healing/luminous-healing/internal/nixclean"
)

// nixCleanupCommand is `luminous-healingd nix-cleanup`, what
// luminous-healing-nix-cleanup.service runs (docs/cleanup.md).
var nixCleanupCommand = &cli.Command{
	Name:  "nix-cleanup",
	Usage: "delete old NixOS generations beyond the retention policy, collect garbage, prune /boot",
	Description: "Keeps the newest --keep-generations system generations, those younger than --keep-days,\n" +
		"the profile's current one and the running and booted systems; deletes the others, runs\n" +
		"nix-store --gc (and --optimise with --optimise), then installs the bootloader again with the\n" +
		"system profile's switch-to-configuration boot so that /boot loses the deleted generations'\n" +
		"kernels and initrds. The policy comes from [cleanup.nix] in the configuration; flags override it.\n" +
		"Run as root. --dry-run changes nothing and says what would go.\n\n" +
		"Under systemd (luminous-healing-nix-cleanup.service) it writes its report to\n" +
		"$RUNTIME_DIRECTORY/" + heal.ResultFile + ", where luminous-healingd's cleanup action reads what it freed.",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "configuration `FILE` to read [cleanup.nix] from (default " + config.DefaultPath + " where it exists)"},
		&cli.IntFlag{Name: "keep-generations", Usage: "keep the newest `N` generations (≥ 1)", DefaultText: "cleanup.nix.keep_generations, 5"},
		&cli.IntFlag{Name: "keep-days", Usage: "keep generations younger than `DAYS` (0: no age rule)", DefaultText: "cleanup.nix.keep_days, 14"},
		&cli.BoolFlag{Name: "optimise", Usage: "run nix-store --optimise after collecting garbage", DefaultText: "cleanup.nix.optimise, false"},
		&cli.BoolFlag{Name: "boot", Usage: "install the bootloader again to prune /boot (--boot=false: leave /boot alone)", DefaultText: "cleanup.nix.boot, true"},
		&cli.StringSliceFlag{Name: "profile", Usage: "a further `PROFILE` (e.g. a user's) the policy applies to; repeatable"},
		&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "change nothing; list what would go and estimate the bytes"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
		&cli.StringFlag{Name: "result", Usage: "write the JSON report to `FILE` (default $RUNTIME_DIRECTORY/" + heal.ResultFile + " when set)"},
		&cli.StringFlag{Name: "system-profile", Value: nixclean.SystemProfile, Usage: "the system `PROFILE`"},
		&cli.StringFlag{Name: "current-system", Value: nixclean.CurrentSystem, Usage: "`LINK` to the running system, always kept"},
		&cli.StringFlag{Name: "booted-system", Value: nixclean.BootedSystem, Usage: "`LINK` to the booted system, always kept"},
		&cli.StringFlag{Name: "boot-dir", Value: nixclean.BootDir, Usage: "the boot `DIR` the bootloader writes"},
	},
	Action: nixCleanupMain,
}

func nixCleanupMain(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError{fmt.Errorf("nix-cleanup: unexpected argument %q", c.Args().First())}
	}
	cfg, err := nixCleanupConfig(c.String("config"), c.IsSet("config"))
	if err != nil {
		return usageError{err}
	}
	o := heal.NixOptions(cfg)
	o.SystemProfile = c.String("system-profile")
	o.CurrentSystem = c.String("current-system")
	o.BootedSystem = c.String("booted-system")
	o.BootDir = c.String("boot-dir")
	if c.IsSet("keep-generations") {
		o.KeepGenerations = c.Int("keep-generations")
	}
	if c.IsSet("keep-days") {
		if c.Int("keep-days") < 0 {
			return usageError{fmt.Errorf("--keep-days: must not be negative, got %d", c.Int("keep-days"))}
		}
		o.KeepFor = time.Duration(c.Int("keep-days")) * 24 * time.Hour
	}
	if c.IsSet("optimise") {
		o.Optimise = c.Bool("optimise")
	}
	if c.IsSet("boot") {
		o.Boot = c.Bool("boot")
	}
	for _, p := range c.StringSlice("profile") {
		if !filepath.IsAbs(p) {
			return usageError{fmt.Errorf("--profile: want an absolute path, got %q", p)}
		}
		if !slices.Contains(o.Profiles, p) {
			o.Profiles = append(o.Profiles, p)
		}
	}
	if err := o.Policy.Validate(); err != nil {
		return usageError{err}
	}
	o.DryRun = c.Bool("dry-run")
	o.Log = os.Stderr
	result := c.String("result")
	if result == "" && os.Getenv("RUNTIME_DIRECTORY") != "" {
		result = filepath.Join(filepath.SplitList(os.Getenv("RUNTIME_DIRECTORY"))[0], heal.ResultFile)
	}

	if _, err := os.Lstat(o.SystemProfile); errors.Is(err, fs.ErrNotExist) {
		// Not NixOS: the unit's condition normally keeps it from running.
		fmt.Fprintf(os.Stderr, "nix-cleanup: no system profile at %s (not NixOS?); leaving it out\n", o.SystemProfile)
		o.SystemProfile = ""
	}
	rep, runErr := nixclean.Run(c.Context, o)
	if rep == nil {
		return runErr
	}
	rep.InvocationID = os.Getenv("INVOCATION_ID")
	if result != "" {
		if err := rep.WriteFile(result); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printReport(os.Stdout, rep)
	}
	if runErr != nil {
		return fmt.Errorf("nix-cleanup: %w", runErr)
	}
	return nil
}

// nixCleanupConfig reads the configuration for its [cleanup.nix]; the
// default file may be missing (the built-in policy applies), a named one not.
func nixCleanupConfig(path string, named bool) (*config.Config, error) {
	if path == "" {
		path = config.DefaultPath
	}
	cfg, err := config.Load(path)
	if err != nil && !named && errors.Is(err, fs.ErrNotExist) {
		return config.Default(), nil
	}
	return cfg, err
}

func printReport(w io.Writer, rep *nixclean.Report) {
	fmt.Fprintln(w, rep.Summary)
	verb := "deleted"
	if rep.DryRun {
		verb = "would delete"
	}
	for _, p := range rep.Profiles {
		fmt.Fprintf(w, "%s (current generation %d):\n", p.Profile, p.Current)
		gone := map[bool]string{true: "delete", false: "deleted"}[rep.DryRun]
		for _, g := range p.Kept {
			fmt.Fprintf(w, "  %-7s %-18s %s\n", "keep", g, strings.Join(g.Why, ", "))
		}
		for _, g := range p.Deleted {
			fmt.Fprintf(w, "  %-7s %s\n", gone, g)
		}
	}
	if rep.StorePaths > 0 || !rep.DryRun {
		fmt.Fprintf(w, "store: %s %d paths, %s\n", verb, rep.StorePaths, nixclean.FormatBytes(rep.StoreBytes))
	}
	if rep.OptimisedBytes > 0 {
		fmt.Fprintf(w, "store: optimising freed %s\n", nixclean.FormatBytes(rep.OptimisedBytes))
	}
	if b := rep.Boot; b != nil {
		switch {
		case b.Skipped != "":
			fmt.Fprintf(w, "%s: left alone: %s\n", b.Dir, b.Skipped)
		default:
			fmt.Fprintf(w, "%s: %s %d files, %s\n", b.Dir, map[bool]string{true: "would remove", false: "removed"}[rep.DryRun], len(b.Removed), nixclean.FormatBytes(b.FreedBytes))
			for _, f := range b.Removed {
				fmt.Fprintf(w, "  %s\n", f)
			}
			for _, f := range b.Restored {
				fmt.Fprintf(w, "  put back %s (the bootloader removed a kept generation's file)\n", f)
			}
		}
	}
	mounts := make([]string, 0, len(rep.FreedBytes))
	for m := range rep.FreedBytes {
		mounts = append(mounts, m)
	}
	slices.Sort(mounts)
	for _, m := range mounts {
		fmt.Fprintf(w, "%s on %s: %s\n", map[bool]string{true: "would free", false: "freed"}[rep.DryRun], m, nixclean.FormatBytes(rep.FreedBytes[m]))
	}
}
