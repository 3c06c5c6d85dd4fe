# Sourced by prepare.sh for a guest on another suite's kernel: that suite's container engines, so the
# guest tests today's engines with today's kernel while the host keeps its own. They land in
# $cache/engines/usr, which the guest lays over its /usr (an overlay, in the guest only): /usr/bin/crun,
# /usr/sbin/runc, /usr/bin/podman, /usr/bin/containerd, /usr/sbin/dockerd ... are then the suite's.
#
# The suite's C programs (crun, runc, conmon, podman) need a newer glibc than the host's: they get the
# suite's own libraries in usr/lib/agentcgroup-engines, named as their interpreter and rpath, so nothing
# else in the guest loads them. The Go daemons (dockerd, containerd, its shim) run on the host's glibc.
#
# Needs from prepare.sh: cache, kernel (the suite), apt_opts, apt_update, die.

engine_pkgs=(docker.io docker-cli containerd podman crun runc conmon catatonit)
engine_libdir=/usr/lib/agentcgroup-engines

# The library packages the engines need, transitively, and nothing else (no daemons, no systemd).
engine_libs() {
  local set new
  lib_deps() {
    apt-cache "${apt_opts[@]}" depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$@" 2>/dev/null |
      awk '$1 == "Depends:" || $1 == "PreDepends:" || $1 == "|Depends:" { print $2 }' | tr -d '<>' | grep -E '^lib' | sort -u
  }
  set=$(lib_deps "${engine_pkgs[@]}")
  while :; do
    new=$( (echo "$set"; lib_deps $set) | sort -u)
    [ "$new" = "$set" ] && break
    set=$new
  done
  echo "$set"
}

prepare_engines() {
  command -v patchelf >/dev/null || die "missing patchelf (apt-get install patchelf)"
  local libs vers estamp
  libs=$(engine_libs) || die "cannot resolve the engines' libraries in $kernel"
  [ -n "$libs" ] || { apt_update; libs=$(engine_libs); }
  # The stamp names each package at its version: a newer engine in the suite rebuilds the tree.
  vers=$(apt-cache "${apt_opts[@]}" policy "${engine_pkgs[@]}" $libs 2>/dev/null | awk '/^[^ ]/ { p = $1 } /Candidate:/ { print p $2 }' | tr '\n' ' ')
  estamp="$vers $(sha256sum < "$here/engines.sh" | cut -c1-16)"
  if [ -f "$cache/engines/stamp" ] && [ "$(cat "$cache/engines/stamp")" = "$estamp" ]; then
    echo "vm prepare: engines cached in $cache/engines"; return 0
  fi
  ework=$(mktemp -d /var/tmp/agentcgroup-engines.XXXXXX)
  trap 'rm -rf "${work:-}" "$ework"' EXIT
  chmod 755 "$ework"
  echo "vm prepare: fetching ${engine_pkgs[*]} from $kernel"
  (cd "$ework" && apt-get "${apt_opts[@]}" download -q "${engine_pkgs[@]}" $libs >/dev/null 2>apt.err) ||
    { apt_update; (cd "$ework" && apt-get "${apt_opts[@]}" download -q "${engine_pkgs[@]}" $libs >/dev/null 2>apt.err); } ||
    { cat "$ework/apt.err" >&2; rm -rf "$ework"; die "apt-get download of the engines failed"; }
  local p deb
  for p in "${engine_pkgs[@]}"; do
    deb=$(ls "$ework/${p}"_*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] || die "apt-get download gave no package $p"
    dpkg-deb -x "$deb" "$ework/tree"
  done
  for p in $libs; do dpkg-deb -x "$(ls "$ework/${p}"_*.deb | head -1)" "$ework/libs"; done
  local lib=$ework/tree$engine_libdir
  mkdir -p "$lib"
  # Shared objects only, flattened (symlinks kept), and the dynamic loader they were built with.
  local d
  for d in "$ework/libs/usr/lib/x86_64-linux-gnu" "$ework/libs/lib/x86_64-linux-gnu"; do
    [ -d "$d" ] && find "$d" -maxdepth 1 -name '*.so*' \( -type f -o -type l \) -exec cp -a -t "$lib" {} +
  done
  [ -e "$lib/ld-linux-x86-64.so.2" ] || die "no dynamic loader among the $kernel libraries"
  # A program that needs more than the host's libraries (ldd says what is not found) loads the suite's;
  # the rest (static ones, the Go daemons) stay byte for byte as packaged.
  local f
  while IFS= read -r f; do
    patchelf --print-interpreter "$f" >/dev/null 2>&1 || continue
    # (ldd fails on such a program: its output is read whole, not piped, under pipefail)
    [[ "$(ldd "$f" 2>&1)" == *'not found'* ]] || continue
    patchelf --set-interpreter "$engine_libdir/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$engine_libdir" "$f" ||
      die "patchelf failed on ${f#"$ework/tree"}"
  done < <(find "$ework/tree/usr/bin" "$ework/tree/usr/sbin" "$ework/tree/usr/libexec" "$ework/tree/usr/lib/containerd" -type f)
  # docker run --init runs docker-init: Debian's dockerd looks for it in /usr/sbin; the host's tini is it.
  ln -sfn /usr/bin/tini-static "$ework/tree/usr/sbin/docker-init"
  rm -rf "$ework/tree/usr/share/doc" "$ework/tree/usr/share/man"
  rm -rf "$cache/engines"
  mkdir -p "$cache/engines"
  mv "$ework/tree/usr" "$cache/engines/usr"
  echo "$estamp" > "$cache/engines/stamp"
  rm -rf "$ework"
  echo "vm prepare: engines ready in $cache/engines ($(echo "$vers" | tr ' ' '\n' | grep -E "^($(IFS='|'; echo "${engine_pkgs[*]}"))" | tr '\n' ' '))"
}
