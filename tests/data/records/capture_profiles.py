#!/usr/bin/env python3
"""Record real file, network, module and process-change audit records on this
machine, once, as test data:

    .venv/bin/python tests/data/records/capture_profiles.py   # root; writes profiles-capture.log

A private auditd (tests/harness/auditd.py: foreground, own config, stopped by
PID, kernel audit restored with `auditctl -D; auditctl -e 0`) runs with every
profile of conf/profiles/ loaded, plus three rules only this capture needs
(reads of one file under the files key, exit_group and unix-socket accepts of
this session).
A child with its own login uid (as pam_loginuid sets one at a login) then
runs real commands: creates, appends to, renames, truncates, links,
chmods, chowns, labels (xattr), reads and deletes files in /etc/cron.d and
in a temporary directory; serves HTTP on 127.0.0.1 and ::1 and fetches from
both with curl, is refused on a closed port, talks to a unix socket with
socat and nc; tries to load a module that is not one (insmod); sends a
real-time signal; changes user and group ids (setpriv) and opens a session
(setsid). Only the events of that login uid are kept (the machine runs other
jobs). Everything made is removed again; /etc/cron.d is removed too if the
capture had to create it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from harness.auditd import auditctl, running_auditd  # noqa: E402
from harness.profiles import (LOGIN_UID, events_of_login_uid, keep_login_uid,  # noqa: E402
                              profile_rules, records_written)

OUTPUT = HERE / "profiles-capture.log"

SCENARIO = r"""
set -u
cd "$WORK"
# files: a cron job dropped, appended to, renamed, changed, linked, removed
echo '* * * * * root true' > /etc/cron.d/aeql-job
echo '# more' >> /etc/cron.d/aeql-job
mv /etc/cron.d/aeql-job /etc/cron.d/aeql-job2
chmod 600 /etc/cron.d/aeql-job2
chown root:root /etc/cron.d/aeql-job2
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.aeql", b"1"); os.truncate(sys.argv[1], 0)' /etc/cron.d/aeql-job2
ln /etc/cron.d/aeql-job2 /etc/cron.d/aeql-hard
ln -s /etc/cron.d/aeql-job2 /etc/cron.d/aeql-sym
mkfifo /etc/cron.d/aeql-fifo
mkdir /etc/cron.d/aeql-dir
rmdir /etc/cron.d/aeql-dir
rm -f /etc/cron.d/aeql-job2 /etc/cron.d/aeql-hard /etc/cron.d/aeql-sym /etc/cron.d/aeql-fifo
cat "$WORK/secret" > /dev/null
(cd "$WORK" && mv secret secret.renamed && rm secret.renamed)
# network: HTTP over IPv4 and IPv6, a refused port, a unix socket
python3 -m http.server --bind 127.0.0.1 "$PORT4" >/dev/null 2>&1 &
S4=$!
python3 -m http.server --bind ::1 "$PORT6" >/dev/null 2>&1 &
S6=$!
for i in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT4/" && curl -s -o /dev/null -g "http://[::1]:$PORT6/" && break
    sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$CLOSED/" || true
kill $S4 $S6; wait $S4 $S6 2>/dev/null
socat UNIX-LISTEN:"$WORK/ctl.sock" /dev/null &
U=$!
for i in $(seq 50); do [ -S "$WORK/ctl.sock" ] && break; sleep 0.1; done
echo hi | nc -N -U "$WORK/ctl.sock" || true
wait $U 2>/dev/null
# a module load attempt that fails (not a module)
head -c 512 /dev/zero > "$WORK/aeql_bogus.ko"
insmod "$WORK/aeql_bogus.ko" 2>/dev/null || true
# process changes: a real-time signal, new ids, a new session
sleep 30 &
P=$!
kill -s RTMIN+1 $P
wait $P 2>/dev/null
setpriv --reuid=65534 --regid=65534 --clear-groups true
setsid true
"""


def main() -> int:
    if os.geteuid() != 0:
        print("capture_profiles: run as root", file=sys.stderr)
        return 1
    made_cron = not os.path.isdir("/etc/cron.d")
    if made_cron:
        os.mkdir("/etc/cron.d", 0o755)
    work = Path(tempfile.mkdtemp(prefix="aeql-capture-"))
    try:
        (work / "secret").write_text("s3cret\n")
        with running_auditd(work / "auditd-run") as daemon:
            for rule in profile_rules(["exec", "files", "network", "modules", "process"]):
                auditctl(*rule.split())
            for rule in (f"-w {work}/secret -p r -k files",
                         f"-a always,exit -F arch=b64 -S exit_group -F auid={LOGIN_UID} -k end",
                         f"-a always,exit -F arch=b64 -S accept,accept4 -F saddr_fam=1 "
                         f"-F auid={LOGIN_UID} -k net"):
                auditctl(*rule.split())
            ports = free_ports(3)
            env = dict(os.environ, WORK=str(work), PORT4=str(ports[0]), PORT6=str(ports[1]),
                       CLOSED=str(ports[2]), PATH="/usr/sbin:/usr/bin:/sbin:/bin")
            subprocess.run(["bash", "-c", SCENARIO], env=env, check=True, timeout=120,
                           preexec_fn=keep_login_uid)
            daemon.stop()
            kept = events_of_login_uid(records_written(daemon.directory))
        OUTPUT.write_text(kept)
        print(f"capture_profiles: {kept.count(chr(10))} records -> {OUTPUT}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if made_cron:
            shutil.rmtree("/etc/cron.d", ignore_errors=True)
    return 0


def free_ports(count: int) -> list[int]:
    import socket
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


if __name__ == "__main__":
    sys.exit(main())
