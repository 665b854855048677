// Package nixtest is a test kit: the pieces of a private Nix store with
// NixOS-like system generations, built by Debian's nix-bin without nixpkgs,
// for the tests of internal/nixclean and the end-to-end suite. Nothing in
// it touches the host's /nix: every path comes from Env's root.
package nixtest

import "path/filepath"

// StandInSwitch is a STAND-IN for NixOS's switch-to-configuration boot. It
// does what NixOS's systemd-boot builder does to /boot: copy every profile
// generation's kernel and initrd to EFI/nixos/<store item>-<file>.efi,
// write loader/entries/nixos-generation-N.conf for each, and remove the
// files and entries of generations that no longer exist. With
// LH_STANDIN_BUGGY=1 it also removes every kernel and initrd but the
// profile's current one, as a broken bootloader might.
const StandInSwitch = `#!/bin/sh
# stand-in for switch-to-configuration (luminous-healing's tests)
set -eu
[ "${1:-}" = boot ] || { echo "stand-in: only 'boot' is supported" >&2; exit 2; }
profile=$LH_STANDIN_PROFILE
boot=$LH_STANDIN_BOOT
store=$NIX_STORE_DIR
mkdir -p "$boot/EFI/nixos" "$boot/loader/entries"
keep=" "
for link in "$profile"-*-link; do
  [ -L "$link" ] || continue
  n=${link##*/}; n=${n#system-}; n=${n%-link}
  for f in kernel initrd; do
    src=$(readlink -f "$link/$f")
    item=${src#"$store"/}; item=${item%%/*}
    name="$item-${src##*/}.efi"
    [ -e "$boot/EFI/nixos/$name" ] || cp "$src" "$boot/EFI/nixos/$name"
    keep="$keep$name nixos-generation-$n.conf "
  done
  printf 'title NixOS\nversion Generation %s\n' "$n" > "$boot/loader/entries/nixos-generation-$n.conf"
done
if [ "${LH_STANDIN_BUGGY:-}" = 1 ]; then
  cur=$(readlink -f "$profile/kernel"); cur=${cur#"$store"/}; cur=${cur%%/*}
  curi=$(readlink -f "$profile/initrd"); curi=${curi#"$store"/}; curi=${curi%%/*}
  keep=" $cur-bzImage.efi $curi-initrd.efi "
fi
for f in "$boot"/EFI/nixos/* "$boot"/loader/entries/nixos-generation-*.conf; do
  [ -e "$f" ] || continue
  case "$keep" in *" ${f##*/} "*) ;; *) rm -f "$f" ;; esac
done
`

// SystemsNix builds generation n's system, to be written as system.nix
// next to StandInSwitch written as switch-to-configuration: kernel "a" for
// generations 1–3, "b" for 4–8, "c" for 9–12 (64 KiB each, initrds 32
// KiB), and a payload of its own of payload·n KiB.
const SystemsNix = `{ n, payload ? 8 }:
let
  sh = name: script: derivation { inherit name; system = builtins.currentSystem; builder = "/bin/sh"; PATH = "/usr/bin:/bin"; args = [ "-c" script ]; };
  fill = kib: tag: "head -c ${toString (kib * 1024)} /dev/zero | tr '\\0' ${tag}";
  kernel = k: sh "linux-${k}" "mkdir $out; (${fill 64 "k"}; echo ${k}) > $out/bzImage";
  initrd = k: sh "initrd-linux-${k}" "mkdir $out; (${fill 32 "i"}; echo ${k}) > $out/initrd";
  k = if n <= 3 then "a" else if n <= 8 then "b" else "c";
  switch = builtins.toFile "switch-to-configuration" (builtins.readFile ./switch-to-configuration);
in sh "nixos-system-test-${toString n}" ''
  mkdir -p $out/bin
  ln -s ${kernel k}/bzImage $out/kernel
  ln -s ${initrd k}/initrd $out/initrd
  cp ${switch} $out/bin/switch-to-configuration
  chmod +x $out/bin/switch-to-configuration
  (${fill (payload * n) "p"}; echo ${toString n}) > $out/payload
''
`

// NixConf is the private store's nix.conf: no sandbox and no build users
// (neither exists for an ordinary user; the builders only use /bin/sh), no
// substituters (no network), and no 8 MiB reserved for the collector: the
// end-to-end test's store lives on a 16 MiB tmpfs.
const NixConf = "sandbox = false\nbuild-users-group =\nsubstituters =\nauto-optimise-store = false\ngc-reserved-space = 0\n"

// Layout is where a private store under one root keeps its parts.
type Layout struct {
	Root, Store, State, Conf, Profile, Boot, Expr string
}

// At lays a private store out under root.
func At(root string) Layout {
	return Layout{
		Root:    root,
		Store:   filepath.Join(root, "store"),
		State:   filepath.Join(root, "state"),
		Conf:    filepath.Join(root, "conf"),
		Profile: filepath.Join(root, "state", "profiles", "system"),
		Boot:    filepath.Join(root, "boot"),
		Expr:    filepath.Join(root, "expr"),
	}
}

// Env is the environment Nix's tools and the stand-in need to use the
// store, as NAME=value pairs.
func (l Layout) Env() []string {
	return []string{
		"NIX_STORE_DIR=" + l.Store,
		"NIX_STATE_DIR=" + l.State,
		"NIX_LOG_DIR=" + filepath.Join(l.Root, "log"),
		"NIX_CONF_DIR=" + l.Conf,
		"NIX_REMOTE=local",
		"NIX_USER_CONF_FILES=",
		"LH_STANDIN_PROFILE=" + l.Profile,
		"LH_STANDIN_BOOT=" + l.Boot,
	}
}
