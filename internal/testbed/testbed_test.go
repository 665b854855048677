package testbed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The tests boot real machines, one at a time: TestCloseLeavesNothingOnTheHost
// compares the host's cgroup hierarchies before and after, so none of them
// runs in parallel.

func TestMachine(t *testing.T) {
	m := Boot(t, Options{
		Name: "lhtest",
		Files: map[string]File{
			"/etc/lhtest/greeting": {Data: []byte("hello\n"), Mode: 0o640},
		},
		Setup: []string{`test "$(cat /etc/lhtest/greeting)" = hello`, "touch /etc/lhtest/setup-ran"},
	})
	ctx := t.Context()

	t.Run("systemd reports running or degraded", func(t *testing.T) {
		out, _, _ := m.Run(ctx, "systemctl", "is-system-running")
		if got := strings.TrimSpace(out); got != "running" && got != "degraded" {
			t.Errorf("systemctl is-system-running = %q; want running or degraded", got)
		}
	})

	t.Run("the hostname is the machine's name", func(t *testing.T) {
		if got := strings.TrimSpace(m.MustRun(t, "hostname")); got != "lhtest" {
			t.Errorf("hostname = %q; want lhtest", got)
		}
	})

	t.Run("the system bus lists systemd", func(t *testing.T) {
		out := m.MustRun(t, "busctl", "--system", "list", "--no-pager", "--no-legend")
		if !hasLineWithPrefix(out, "org.freedesktop.systemd1 ") {
			t.Errorf("busctl --system list has no org.freedesktop.systemd1:\n%s", out)
		}
	})

	t.Run("polkit is activated on demand", func(t *testing.T) {
		out := m.MustRun(t, "busctl", "--system", "get-property", "org.freedesktop.PolicyKit1",
			"/org/freedesktop/PolicyKit1/Authority", "org.freedesktop.PolicyKit1.Authority", "BackendName")
		if got := strings.TrimSpace(out); got != `s "js"` {
			t.Errorf("polkit BackendName = %s; want s \"js\"", got)
		}
		if got := strings.TrimSpace(m.MustRun(t, "systemctl", "is-active", "polkit.service")); got != "active" {
			t.Errorf("polkit.service is %s; want active", got)
		}
	})

	t.Run("pkcheck authorizes root", func(t *testing.T) {
		m.MustRun(t, "sh", "-c", "exec pkcheck --action-id org.freedesktop.systemd1.manage-units --process $$")
	})

	t.Run("a transient unit runs and fails when killed", func(t *testing.T) {
		m.MustRun(t, "systemd-run", "--unit=x", "sleep", "100")
		if got := strings.TrimSpace(m.MustRun(t, "systemctl", "is-active", "x")); got != "active" {
			t.Fatalf("x.service is %s; want active", got)
		}
		m.MustRun(t, "systemctl", "kill", "-s", "KILL", "x")
		got := waitFor(t, 10*time.Second, func() string {
			out, _, _ := m.Run(ctx, "systemctl", "is-active", "x")
			return strings.TrimSpace(out)
		}, "failed")
		if got != "failed" {
			t.Errorf("x.service is %s after SIGKILL; want failed", got)
		}
	})

	if err := m.AddUser(ctx, "alice", "wheel"); err != nil {
		t.Fatal(err)
	}

	t.Run("RunAs runs as the user with its groups and environment", func(t *testing.T) {
		passwd, err := m.ReadFile("/etc/passwd")
		if err != nil {
			t.Fatal(err)
		}
		want := regexp.MustCompile(`(?m)^alice:x:(\d+):`).FindStringSubmatch(string(passwd))
		if want == nil {
			t.Fatalf("no alice in the machine's /etc/passwd")
		}
		out, _, err := m.RunAs(ctx, "alice", "sh", "-c", `id -u; id -nG; echo "$HOME $USER"`)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 {
			t.Fatalf("got output %q; want 3 lines", out)
		}
		if lines[0] != want[1] {
			t.Errorf("id -u = %s; want %s", lines[0], want[1])
		}
		if groups := strings.Fields(lines[1]); !slices.Contains(groups, "wheel") || !slices.Contains(groups, "alice") {
			t.Errorf("id -nG = %q; want alice and wheel among them", lines[1])
		}
		if lines[2] != "/home/alice alice" {
			t.Errorf("HOME USER = %q; want \"/home/alice alice\"", lines[2])
		}
	})

	t.Run("systemd asks polkit about an unprivileged caller", func(t *testing.T) {
		// Reading is open to everyone; starting a unit needs polkit's yes,
		// and without an agent to ask for a password the answer is no.
		if _, _, err := m.RunAs(ctx, "alice", "busctl", "--system", "call", "org.freedesktop.systemd1",
			"/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "GetUnit", "s", "dbus.service"); err != nil {
			t.Fatalf("GetUnit as alice: %v", err)
		}
		_, stderr, err := m.RunAs(ctx, "alice", "busctl", "--system", "call", "org.freedesktop.systemd1",
			"/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "StartUnit", "ss", "x.service", "replace")
		if err == nil || !strings.Contains(stderr, "Interactive authentication required") {
			t.Errorf("StartUnit as alice: err = %v, stderr %q; want Interactive authentication required", err, stderr)
		}
	})

	t.Run("pkcheck does not authorize an unprivileged user", func(t *testing.T) {
		// Exit status 2: polkit wants an administrator's password and no
		// agent can ask for it. 1 would be a plain no, 127 an error.
		_, stderr, err := m.RunAs(ctx, "alice", "sh", "-c", "exec pkcheck --action-id org.freedesktop.systemd1.manage-units --process $$")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Fatalf("pkcheck as alice: err = %v, stderr %q; want exit status 2", err, stderr)
		}
	})

	t.Run("a canceled command ends at once with everything it started", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, err := m.RunAs(cctx, "alice", "sh", "-c", "sleep 4242 & sleep 4243; echo unreachable")
		if err == nil {
			t.Fatalf("RunAs returned no error after its context ended")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("RunAs returned %v after its context ended; want at once", d)
		}
		got := waitFor(t, 5*time.Second, func() string {
			out, _, _ := m.Run(ctx, "sh", "-c", "pgrep -f 'sleep 424[23]' || true")
			return strings.TrimSpace(out)
		}, "")
		if got != "" {
			t.Errorf("processes of the canceled command still run: %s", got)
		}
	})

	t.Run("files from Options and Setup are in place before boot", func(t *testing.T) {
		out := strings.TrimSpace(m.MustRun(t, "stat", "-c", "%a %U", "/etc/lhtest/greeting", "/etc/lhtest/setup-ran"))
		if want := "640 root\n644 root"; out != want {
			t.Errorf("modes and owners = %q; want %q", out, want)
		}
	})

	t.Run("WriteFile and ReadFile resolve symlinks inside the machine", func(t *testing.T) {
		// /var/run is an absolute symlink to /run: followed on the host it
		// would write the host's /run.
		if err := m.WriteFile("/var/run/lhtest/note", []byte("inside\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := m.MustRun(t, "cat", "/run/lhtest/note"); got != "inside\n" {
			t.Errorf("machine's /run/lhtest/note = %q; want %q", got, "inside\n")
		}
		if _, err := os.Stat("/run/lhtest"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("host's /run/lhtest: err = %v; want not exist", err)
		}
		data, err := m.ReadFile("/var/run/lhtest/note")
		if err != nil || string(data) != "inside\n" {
			t.Errorf("ReadFile = %q, %v; want %q", data, err, "inside\n")
		}
	})

	t.Run("the journal has a unit's entries", func(t *testing.T) {
		since := time.Now()
		m.MustRun(t, "systemd-run", "--unit=lhtest-journal", "--wait", "--quiet", "echo", "hello from the journal")
		entries, err := m.Journal(ctx, "lhtest-journal.service", since)
		if err != nil {
			t.Fatal(err)
		}
		var messages []string
		for _, e := range entries {
			messages = append(messages, e.Field("MESSAGE"))
		}
		if !slices.Contains(messages, "hello from the journal") {
			t.Errorf("journal of lhtest-journal.service = %q; want it to hold %q", messages, "hello from the journal")
		}
	})

	t.Run("the machine has a network of its own", func(t *testing.T) {
		out := m.MustRun(t, "ip", "-o", "link", "show")
		if n := strings.Count(strings.TrimSpace(out), "\n") + 1; n != 1 || !strings.Contains(out, ": lo:") {
			t.Errorf("ip link show =\n%s\nwant only lo", out)
		}
	})

	t.Run("Install runs make install inside the machine and reloads", func(t *testing.T) {
		repo := t.TempDir()
		writeFiles(t, repo, map[string]string{
			"Makefile": "PREFIX ?= /usr/local\n" +
				"install:\n" +
				"\ttouch built-here\n" +
				"\tinstall -D -m 0644 lhtest-hello.service $(DESTDIR)$(PREFIX)/lib/systemd/system/lhtest-hello.service\n" +
				"\tinstall -D -m 0644 org.luminous.Test.service $(DESTDIR)$(PREFIX)/share/dbus-1/system-services/org.luminous.Test.service\n" +
				"\thostname > $(DESTDIR)$(PREFIX)/share/lhtest-installed-on\n" +
				"\tgo build -o $(DESTDIR)$(PREFIX)/bin/lhtest-hello .\n",
			"go.mod":                    "module lhtest.example/hello\n\ngo 1.26\n",
			"main.go":                   "package main\n\nfunc main() { println(\"hello from go\") }\n",
			"lhtest-hello.service":      "[Service]\nType=oneshot\nExecStart=/bin/echo hello\n",
			"org.luminous.Test.service": "[D-BUS Service]\nName=org.luminous.Test\nExec=/bin/false\nUser=root\nSystemdService=lhtest-hello.service\n",
		})
		m.Install(t, repo)

		if got, err := m.ReadFile("/usr/share/lhtest-installed-on"); err != nil || string(got) != "lhtest\n" {
			t.Errorf("/usr/share/lhtest-installed-on = %q, %v; want lhtest", got, err)
		}
		if got := strings.TrimSpace(m.MustRun(t, "systemctl", "show", "-P", "LoadState", "lhtest-hello.service")); got != "loaded" {
			t.Errorf("LoadState of the installed unit = %s; want loaded", got)
		}
		if _, stderr, err := m.Run(ctx, "lhtest-hello"); err != nil || stderr != "hello from go\n" {
			t.Errorf("the Go program built by make install: stderr %q, err %v; want hello from go", stderr, err)
		}
		out := m.MustRun(t, "busctl", "--system", "list", "--activatable", "--no-legend", "--no-pager")
		if !hasLineWithPrefix(out, "org.luminous.Test ") {
			t.Errorf("the bus does not list the installed org.luminous.Test as activatable:\n%s", out)
		}
		for _, p := range []string{"/usr/lib/systemd/system/lhtest-hello.service", "/usr/share/lhtest-installed-on", "/usr/bin/lhtest-hello", filepath.Join(repo, "built-here")} {
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("host's %s: err = %v; want not exist: make install must write only inside the machine", p, err)
			}
		}
	})
}

func TestCloseLeavesNothingOnTheHost(t *testing.T) {
	canary, err := os.CreateTemp("", "lhtest-canary-")
	if err != nil {
		t.Fatal(err)
	}
	canary.Close()
	t.Cleanup(func() { os.Remove(canary.Name()) })
	before := cgroupDirs(t)

	m := Boot(t, Options{})
	ctx := t.Context()
	// A unit of the machine's systemd and a command entered with nsenter,
	// both still running at Close.
	m.MustRun(t, "systemd-run", "--unit=lhtest-sleeper", "sleep", "1000")
	sleeper := m.Command(ctx, "", "sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	sleeperDone := make(chan error, 1)
	go func() { sleeperDone <- sleeper.Wait() }()

	// Boot's tmpfiles pass has run by now; it must have emptied the
	// machine's /tmp, not the host's.
	if _, err := os.Stat(canary.Name()); err != nil {
		t.Fatalf("canary in the host's /tmp after boot: %v", err)
	}

	pidfds := machineProcesses(t, m)
	mntNS := nsInode(t, fmt.Sprintf("/proc/%d/ns/mnt", m.InitPID()))
	dir := m.Dir()
	if len(pidfds) < 5 {
		t.Fatalf("found %d processes in the machine's cgroups; want systemd, journald, dbus, logind and more", len(pidfds))
	}

	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v; want nil", err)
	}

	t.Run("no process of the machine survives", func(t *testing.T) {
		for pid, fd := range pidfds {
			if err := unix.PidfdSendSignal(fd, 0, nil, 0); !errors.Is(err, unix.ESRCH) {
				t.Errorf("PID %d of the machine: signal 0 = %v; want ESRCH", pid, err)
			}
		}
		select {
		case <-sleeperDone:
		case <-time.After(5 * time.Second):
			t.Errorf("the nsenter'd sleep is still running")
		}
	})

	t.Run("no mount of the machine is visible on the host", func(t *testing.T) {
		mounts, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(mounts)) {
			if strings.Contains(line, dir) || strings.Contains(line, " lhsd-") {
				t.Errorf("host mount of the machine: %s", line)
			}
		}
	})

	t.Run("nothing holds the machine's mount namespace", func(t *testing.T) {
		if pid := holderOfNamespace(mntNS); pid != 0 {
			t.Errorf("PID %d holds the machine's mount namespace", pid)
		}
	})

	t.Run("the machine's directory is gone", func(t *testing.T) {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat %s: %v; want not exist", dir, err)
		}
	})

	t.Run("the host's cgroup hierarchies have no new directories", func(t *testing.T) {
		after := cgroupDirs(t)
		for _, d := range after {
			if !slices.Contains(before, d) && fromAMachine(d, filepath.Base(dir)) {
				t.Errorf("new cgroup left behind: %s", d)
			}
		}
	})

	t.Run("the host's /tmp keeps its files", func(t *testing.T) {
		if _, err := os.Stat(canary.Name()); err != nil {
			t.Errorf("canary: %v", err)
		}
	})
}

func TestTwoMachinesOneAfterAnother(t *testing.T) {
	for i, name := range []string{"lhtest-one", "lhtest-two"} {
		m := Boot(t, Options{Name: name})
		if got := strings.TrimSpace(m.MustRun(t, "hostname")); got != name {
			t.Errorf("machine %d: hostname = %q; want %q", i, got, name)
		}
		// Each machine starts from the host's files, not from the writes
		// of the one before.
		if _, err := m.ReadFile("/etc/lhtest-previous"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("machine %d sees the previous machine's file: err = %v", i, err)
		}
		if err := m.WriteFile("/etc/lhtest-previous", []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		m.MustRun(t, "systemd-run", "--unit=lhtest-"+strconv.Itoa(i), "--wait", "--quiet", "true")
		if err := m.Close(); err != nil {
			t.Fatalf("machine %d: Close: %v", i, err)
		}
	}
	if _, err := os.Stat("/etc/lhtest-previous"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("host's /etc/lhtest-previous: err = %v; want not exist", err)
	}
}

// crashHelperEnv makes TestCrashHelper boot a machine and hang, so that
// TestBootRemovesLeftoversOfACrashedRun can kill it the hard way.
const crashHelperEnv = "LHSD_TEST_CRASH_HELPER"

func TestCrashHelper(t *testing.T) {
	if os.Getenv(crashHelperEnv) != "1" {
		t.Skip("run by TestBootRemovesLeftoversOfACrashedRun")
	}
	m := Boot(t, Options{Name: "lhtest-crash"})
	fmt.Printf("machine %s %d\n", m.Dir(), m.InitPID())
	select {}
}

func TestBootRemovesLeftoversOfACrashedRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("testbed: skipped — needs root and unshare: not root")
	}
	// A temporary directory of its own: other test processes booting
	// machines at the same time (go test runs packages in parallel) would
	// otherwise find the crashed run's leftovers first and remove them.
	tmp, err := os.MkdirTemp("", "lhsd-crash-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(tmp) })
	t.Setenv("TMPDIR", tmp)
	helper := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.v", "-test.timeout=2m")
	helper.Env = append(os.Environ(), crashHelperEnv+"=1")
	stdout, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })
	var dir string
	var initPID int
	sc := bufio.NewScanner(stdout)
	var output []string
	for sc.Scan() {
		output = append(output, sc.Text())
		if _, err := fmt.Sscanf(sc.Text(), "machine %s %d", &dir, &initPID); err == nil {
			break
		}
	}
	if dir == "" {
		t.Fatalf("the helper did not boot a machine:\n%s", strings.Join(output, "\n"))
	}
	cgroups, err := readPlanCgroups(filepath.Join(dir, "plan"))
	if err != nil {
		t.Fatal(err)
	}
	initFD, err := unix.PidfdOpen(initPID, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(initFD)

	// SIGKILL leaves no chance to clean up: only the kernel acts.
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	waitFor(t, 10*time.Second, func() string {
		if err := unix.PidfdSendSignal(initFD, 0, nil, 0); errors.Is(err, unix.ESRCH) {
			return "dead"
		}
		return "alive"
	}, "dead")
	if err := unix.PidfdSendSignal(initFD, 0, nil, 0); !errors.Is(err, unix.ESRCH) {
		t.Fatalf("the crashed run's machine init survives its test binary: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the crashed run left no directory to clean up: %v", err)
	}

	Boot(t, Options{})
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("crashed run's %s: err = %v; want not exist", dir, err)
	}
	for _, cg := range cgroups {
		if _, err := os.Stat(cg); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("crashed run's cgroup %s: err = %v; want not exist", cg, err)
		}
	}
}

// skipHelperEnv makes TestSkipHelper call Boot, which
// TestBootSkipsWithoutRoot runs as nobody.
const skipHelperEnv = "LHSD_TEST_SKIP_HELPER"

func TestSkipHelper(t *testing.T) {
	if os.Getenv(skipHelperEnv) != "1" {
		t.Skip("run by TestBootSkipsWithoutRoot")
	}
	Boot(t, Options{})
	t.Error("Boot returned without root")
}

func TestBootSkipsWithoutRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		Boot(t, Options{}) // skips, which is what this test is about
	}
	// nobody must be able to run a copy of this test binary.
	dir, err := os.MkdirTemp("", "lhtest-skip-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "testbed.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
		bin, "-test.run=^TestSkipHelper$", "-test.v")
	cmd.Env = append(os.Environ(), skipHelperEnv+"=1")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the test binary as nobody: %v\n%s", err, out)
	}
	if want := "testbed: skipped — needs root and unshare: running as uid 65534, not root"; !strings.Contains(string(out), want) {
		t.Errorf("output as nobody:\n%s\nwant it to say %q", out, want)
	}
	if !strings.Contains(string(out), "--- SKIP: TestSkipHelper") {
		t.Errorf("output as nobody:\n%s\nwant TestSkipHelper skipped", out)
	}
}

func TestLeftoversWithoutLockAreLeftAloneWhileYoung(t *testing.T) {
	dir, err := os.MkdirTemp("", namePrefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	removeLeftovers(t.Logf)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("a fresh %s was removed: %v", dir, err)
	}
	old := time.Now().Add(-2 * leftoverGrace)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	removeLeftovers(t.Logf)
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an old unlocked %s: err = %v; want removed", dir, err)
	}
}

func hasLineWithPrefix(text, prefix string) bool {
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

// waitFor polls get until it returns want or timeout passes, and returns
// the last value.
func waitFor(t *testing.T, timeout time.Duration, get func() string, want string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := get()
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cgroupDirs lists every directory of every cgroup hierarchy mounted on the
// host.
func cgroupDirs(t *testing.T) []string {
	t.Helper()
	mounts, err := readMountInfo("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, mi := range mounts {
		if mi.fstype != "cgroup" && mi.fstype != "cgroup2" {
			continue
		}
		_ = filepath.WalkDir(mi.mountpoint, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	return dirs
}

var unitCgroup = regexp.MustCompile(`\.(slice|scope|service|mount|socket|swap|automount|device|target|timer|path)$`)

// fromAMachine reports whether a new cgroup directory can be the work of
// the machine called name: its own cgroups, anything below them, and
// anything named like a systemd unit elsewhere. Other new directories come
// from whatever else runs on the host meanwhile (a sandbox's per-command
// cgroups, another test process's live machine).
func fromAMachine(dir, name string) bool {
	for _, part := range strings.Split(dir, "/") {
		if part == name {
			return true
		}
		if strings.HasPrefix(part, namePrefix) {
			// Another machine: a leak only if nothing owns it any more.
			_, err := os.Stat(filepath.Join(os.TempDir(), part))
			return err != nil
		}
	}
	return unitCgroup.MatchString(filepath.Base(dir))
}

// machineProcesses returns a pidfd for every process in the machine's
// cgroups, by host PID, closed when the test ends.
func machineProcesses(t *testing.T, m *Machine) map[int]int {
	t.Helper()
	fds := map[int]int{}
	for _, cg := range m.Cgroups() {
		_ = filepath.WalkDir(cg, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			data, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			for f := range strings.FieldsSeq(string(data)) {
				pid, _ := strconv.Atoi(f)
				if _, ok := fds[pid]; ok || pid <= 0 {
					continue
				}
				if fd, err := unix.PidfdOpen(pid, 0); err == nil {
					fds[pid] = fd
				}
			}
			return nil
		})
	}
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	return fds
}

func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// holderOfNamespace returns a process that is in the mount namespace with
// inode ino or holds a descriptor of it, or 0.
func holderOfNamespace(ino uint64) int {
	want := fmt.Sprintf("mnt:[%d]", ino)
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); l == want {
			return pid
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l == want {
				return pid
			}
		}
	}
	return 0
}
