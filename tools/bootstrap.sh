#!/usr/bin/env bash
# Set up everything audisp-eql needs on a fresh Debian machine, idempotently:
# the system packages (audit bindings, auditd/rsyslog for the real-daemon tests,
# rsyslog-gnutls and openssl for the TLS tests (a private CA made per test),
# iproute2 and util-linux for the private network/mount namespaces of the
# blocking-call tests, mandoc for the man page lint, Debian's packaging tools
# and lintian for `make deb` and its test, logrotate to run the package's
# rotation, audispd-plugins (audisp-remote) for the collector test,
# rsyslog-elasticsearch and python3-yaml to check the SIEM configurations,
# Jinja2/matplotlib/tqdm for `report` and progress, Chromium and a websocket
# client for the report's browser test, laurel for the benchmark) and .venv.
#
#   tools/bootstrap.sh            runtime + test dependencies
#   tools/bootstrap.sh --bench    also the benchmark peers (laurel)
#   tools/bootstrap.sh --bench-done  purge the peers --bench installed (`make bench`
#                                 ends with it: the machine is left as it was found)
set -euo pipefail
cd "$(dirname "$0")/.."

# What --bench installed, for --bench-done to purge (only what was not there before).
BENCH_INSTALLED=build/bench-installed
BENCH_PKGS="laurel gcc libc6-dev"
if [ "${1:-}" = "--bench-done" ]; then
    [ -s "$BENCH_INSTALLED" ] || exit 0
    installed=$(cat "$BENCH_INSTALLED")
    echo "bootstrap: purging the benchmark peers it installed:$installed"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 purge -y -qq $installed >/dev/null
    # laurel's package leaves its system user and log directory behind on purge.
    case " $installed " in
        *" laurel "*)
            if getent passwd _laurel >/dev/null; then userdel _laurel; fi
            rm -rf /var/log/laurel ;;
    esac
    rm -f "$BENCH_INSTALLED"
    exit 0
fi

PKGS="python3 python3-venv python3-audit auditd rsyslog rsyslog-gnutls openssl iproute2 util-linux
      mandoc socat netcat-openbsd procps curl kmod audispd-plugins rsyslog-elasticsearch python3-yaml"
PKGS="$PKGS debhelper dh-python fakeroot lintian logrotate"
PKGS="$PKGS python3-jinja2 python3-matplotlib python3-tqdm chromium python3-websocket"
if [ "${1:-}" = "--bench" ]; then PKGS="$PKGS $BENCH_PKGS"; fi

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "bootstrap: missing system packages:$missing (run as root, or install them)" >&2
        exit 1
    fi
    echo "bootstrap: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    # Other checkouts on this machine may be installing too: wait for dpkg's lock.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    # policy-rc.d or not: installing auditd must never start a system auditd here;
    # the tests start their own, in the foreground, with a private config.
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
    if [ "${1:-}" = "--bench" ]; then
        mkdir -p build
        for p in $missing; do
            case " $BENCH_PKGS " in *" $p "*) echo -n " $p" >> "$BENCH_INSTALLED" ;; esac
        done
    fi
fi

# The venv sees the system site-packages so that Debian's auparse/audit bindings import.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import auparse, audit' 2>/dev/null; then
    rm -rf .venv
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
    touch "$stamp"
fi
