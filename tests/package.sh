#!/bin/bash
# The Debian package end to end (issue 20), as .ci/run runs it after the test suite, as root
# on a Debian 12 machine without systemd running: a copy of the source tree as git has it,
# dpkg-buildpackage -us -uc -b, apt-get install of the .deb, the system user and
# /var/lib/ceirgw, the installed ceirgw started with the installed configuration as the unit
# would (its ExecStart, User, UMask), GET /healthz, a clean stop, apt-get purge, and nothing
# of the package left but /var/lib/ceirgw (kept on purge on purpose: debian/README.Debian).
# TAP on standard output; a step that the next ones need stops the test ("Bail out!").
# It installs into /usr: run it on a machine where ceirgw is not installed otherwise.
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
. "$top_srcdir/tests/integration/lib.sh"
export DEBIAN_FRONTEND=noninteractive
T=$TEST_TMP
chmod 0755 "$T"	# apt's sandbox user reads the .deb from here

bail() {
	echo "Bail out! $*"
	exit 1
}
# step DESCRIPTION COMMAND...: runs COMMAND, its output to $T/step.log; not ok with the
# output's end when it fails.
step() {
	local what=$1
	shift
	"$@" >"$T/step.log" 2>&1
	local st=$?
	ok "$st" "$what"
	[ "$st" -eq 0 ] || { echo "# exit $st: $*"; tail -30 "$T/step.log" | sed 's/^/#   /'; }
	return "$st"
}

[ "$(id -u)" -eq 0 ] || bail "tests/package.sh installs a package: run it as root"
for tool in dpkg-buildpackage apt-get dpkg-deb setpriv curl; do
	command -v "$tool" >/dev/null || bail "$tool is missing (contrib/debian-packages)"
done
dpkg -s ceirgw >/dev/null 2>&1 && bail "the package ceirgw is installed already: apt-get purge ceirgw first"
for port in 8080 9384; do	# the shipped configuration's, which this test runs unchanged
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
		bail "127.0.0.1:$port is taken: the shipped configuration listens there"
done

# A /var/lib/ceirgw from before (a make install, a ceirgwctl run) is put back as it was.
gw_pid=""
redis_pid=""
saved=""
if [ -e /var/lib/ceirgw ]; then
	saved=$T/var-lib-ceirgw.saved
	mv /var/lib/ceirgw "$saved" || bail "cannot move the existing /var/lib/ceirgw aside"
	echo "# /var/lib/ceirgw was there: moved aside, put back at the end"
fi
pkg_cleanup() {
	if [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null; then
		wait_exit 30 "$gw_pid" || kill -9 "$gw_pid" 2>/dev/null
	fi
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null
	dpkg -s ceirgw >/dev/null 2>&1 && apt-get purge -y ceirgw >/dev/null 2>&1
	if [ -n "$saved" ]; then
		rm -rf /var/lib/ceirgw
		mv "$saved" /var/lib/ceirgw
	fi
}
trap 'pkg_cleanup; cleanup' EXIT
start=$(date +%s)

# ---- build, from a clean copy: what git tracks, and new files it does not ignore
mkdir "$T/src"
if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$top_srcdir" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf -) | tar -xf - -C "$T/src"
else
	tar -C "$top_srcdir" --exclude='./build*' --exclude=node_modules -cf - . | tar -xf - -C "$T/src"
fi
[ -f "$T/src/debian/control" ] && [ ! -e "$T/src/configure" ]
ok $? "a clean copy of the tree (debian/ in it, nothing generated)"
(cd "$T/src" && dpkg-buildpackage -us -uc -b -j"$(nproc)") >"$T/build.log" 2>&1
st=$?
ok "$st" "dpkg-buildpackage -us -uc -b"
[ "$st" -eq 0 ] || { tail -40 "$T/build.log" | sed 's/^/#   /'; bail "the package did not build"; }
echo "# built in $(($(date +%s) - start)) s"
debs=("$T"/ceirgw_*.deb)
is "${#debs[@]}" 1 "one ceirgw .deb"
deb=${debs[0]}
[ -f "$deb" ] || bail "no ceirgw_*.deb in $T"

contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\.||')
for f in /usr/sbin/ceirgw /usr/sbin/ceirgwctl /etc/ceirgw/ceirgw.conf \
	 /lib/systemd/system/ceirgw.service /usr/share/man/man8/ceirgw.8.gz \
	 /usr/share/man/man8/ceirgwctl.8.gz /usr/share/man/man5/ceirgw.conf.5.gz \
	 /usr/share/ceirgw/tacdb.csv /usr/share/ceirgw/flows/ceir.yaml \
	 /usr/share/doc/ceirgw/examples/ceir-consumer /usr/share/doc/ceirgw/examples/kannel/ceirgw-box.conf \
	 /usr/share/doc/ceirgw/copyright /var/lib/ceirgw/; do
	grep -qxF "$f" <<<"$contents"
	ok $? "the package holds $f"
done
is "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles)" "/etc/ceirgw/ceirgw.conf" \
	"its one conffile: /etc/ceirgw/ceirgw.conf"
depends=$(dpkg-deb -f "$deb" Depends)
like "$depends" "redis-server" "it depends on redis-server"
like "$depends" "libevent" "it depends on the libraries it links (shlibs)"

# ---- install
step "apt-get install -y ./$(basename "$deb")" apt-get install -y "$deb" ||
	bail "the package did not install"
is "$(dpkg-query -W -f '${Status}' ceirgw)" "install ok installed" "dpkg: ceirgw installed"
user=$(getent passwd ceirgw)
ok $? "the user ceirgw exists"
uid=$(echo "$user" | cut -d: -f3)
[ -n "$uid" ] && [ "$uid" -lt 1000 ]
ok $? "ceirgw is a system user (uid $uid)"
is "$(echo "$user" | cut -d: -f7)" /usr/sbin/nologin "ceirgw cannot log in"
getent group ceirgw >/dev/null
ok $? "the group ceirgw exists"
is "$(stat -c '%U:%G %a' /var/lib/ceirgw)" "ceirgw:ceirgw 750" "/var/lib/ceirgw: ceirgw's, 0750"
is "$(stat -c '%U:%G %a' /etc/ceirgw/ceirgw.conf)" "root:ceirgw 640" \
	"/etc/ceirgw/ceirgw.conf: root:ceirgw 0640 (it may hold secrets)"
[ -L /etc/systemd/system/multi-user.target.wants/ceirgw.service ]
ok $? "ceirgw.service enabled (dh_installsystemd)"
is "$(/usr/sbin/ceirgw --version)" "ceirgw $(dpkg-query -W -f '${Version}' ceirgw)" \
	"/usr/sbin/ceirgw is the package's version"
step "the installed ceirgwctl reads an IMEI with the installed TAC table" \
	/usr/sbin/ceirgwctl imei 356938035643809

# Where systemd runs (not in CI's container), the package started the unit: it must be up,
# and is stopped so that the shipped configuration's ports are free for the run below.
if [ -d /run/systemd/system ]; then
	wait_for 30 systemctl is-active --quiet ceirgw
	ok $? "systemd started ceirgw.service"
	step "systemctl stop ceirgw" systemctl stop ceirgw
fi

# ---- run the installed ceirgw with the installed configuration, as the unit does
unit=/lib/systemd/system/ceirgw.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
is "$exec_start" "/usr/sbin/ceirgw -c /etc/ceirgw/ceirgw.conf" "the unit's ExecStart"
is "$(sed -n 's/^User=//p' "$unit")" ceirgw "the unit's User"
umask_unit=$(sed -n 's/^UMask=//p' "$unit")
# as_ceirgw COMMAND...: COMMAND as the unit runs it (from /, its user, its umask), in this
# process: run it in a subshell; that subshell's PID is then COMMAND's.
as_ceirgw() {
	cd / && umask "${umask_unit:-0022}" &&
	exec setpriv --reuid=ceirgw --regid=ceirgw --init-groups --reset-env -- "$@"
}
out=$(as_ceirgw /usr/sbin/ceirgw --check-config -c /etc/ceirgw/ceirgw.conf 2>&1)
ok $? "ceirgw --check-config, as ceirgw, accepts the shipped configuration"
like "$out" "data-dir = /var/lib/ceirgw" "shipped: the embedded Redis under /var/lib/ceirgw"
like "$out" "redis = (unset: ceirgw starts its own redis-server in /var/lib/ceirgw)" \
	"shipped: no redis set (the embedded default)"
like "$out" "http-listen = 127.0.0.1:8080" "shipped: HTTP on 127.0.0.1:8080"
like "$out" "admin-listen = 127.0.0.1:9384" "shipped: admin on 127.0.0.1:9384"
# shellcheck disable=SC2086 # ExecStart is a command line, split as systemd splits it
(as_ceirgw $exec_start) >"$T/ceirgw.log" 2>&1 &
gw_pid=$!
healthz() { [ "$(curl -s -o "$T/healthz" -w '%{http_code}' http://127.0.0.1:8080/healthz)" = 200 ]; }
if wait_for 60 healthz; then
	ok 0 "GET /healthz answers 200"
else
	ok 1 "GET /healthz answers 200"
	tail -20 "$T/ceirgw.log" | sed 's/^/#   /'
	bail "the installed ceirgw did not come up"
fi
like "$(cat "$T/healthz")" '"redis":"up"' "/healthz: its Redis is up"
like "$(curl -s http://127.0.0.1:9384/metrics)" "ceirgw_build_info{version=" \
	"GET /metrics on the shipped admin listener (127.0.0.1:9384)"
like "$(/usr/sbin/ceirgwctl stats -c /etc/ceirgw/ceirgw.conf 2>&1)" "ceirgw_build_info" \
	"the installed ceirgwctl stats reads it through the installed configuration"
is "$(ps -o user= -p "$gw_pid" 2>/dev/null | tr -d ' ')" ceirgw "ceirgw runs as ceirgw"
redis_pid=$(pgrep -u ceirgw -x redis-server)
ok $? "its embedded redis-server runs as ceirgw"
[ -S /var/lib/ceirgw/redis.sock ] && [ -d /var/lib/ceirgw/appendonlydir ]
ok $? "the embedded Redis keeps its socket and append-only file in /var/lib/ceirgw"
kill -TERM "$gw_pid"
wait_exit 30 "$gw_pid"
is "$exit_status" 0 "SIGTERM: ceirgw stops cleanly (exit 0)"
gw_pid=""
wait_for 10 sh -c "! kill -0 $redis_pid 2>/dev/null"
ok $? "its redis-server stopped with it"
redis_pid=""
left=$(pgrep -u ceirgw -a)
is "$left" "" "nothing runs as ceirgw any more"

# ---- purge
step "apt-get purge -y ceirgw" apt-get purge -y ceirgw
dpkg -s ceirgw >/dev/null 2>&1
ok $((! $?)) "dpkg: ceirgw gone"
left=""
for f in /usr/sbin/ceirgw /usr/sbin/ceirgwctl /etc/ceirgw/ceirgw.conf /etc/ceirgw \
	 /lib/systemd/system/ceirgw.service /etc/systemd/system/multi-user.target.wants/ceirgw.service \
	 /usr/share/man/man8/ceirgw.8.gz /usr/share/ceirgw /usr/share/doc/ceirgw; do
	[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
done
is "$left" "" "purge leaves no program, configuration, unit, page or shared file"
[ -d /var/lib/ceirgw ]
ok $? "purge keeps /var/lib/ceirgw (the reports and the KYC key: debian/README.Debian)"
[ -z "$saved" ] && rm -rf /var/lib/ceirgw
echo "# package test: $(($(date +%s) - start)) s"

done_testing
