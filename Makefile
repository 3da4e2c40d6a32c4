# audisp-eql: `make demo` and `make test` work on a fresh Debian machine as root.
PY      := .venv/bin/python
TOOL    := .venv/bin/audisp-eql
SHARED  ?= ../shared
PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all setup demo test bench fuzz profiles lint-man install uninstall clean

all: setup

setup:
	@tools/bootstrap.sh

demo: setup
	$(TOOL) scan --format text --rules rules/ examples/intrusion.log

test: setup
	$(PY) -m pytest -q tests

bench: setup
	@tools/bootstrap.sh --bench
	$(PY) bench/run.py --shared $(SHARED) $(BENCH_ARGS)

fuzz: setup
	$(PY) tests/fuzz/run.py --inputs 1000000

# The files audit profile, derived from our rules and the shared corpus (portable form).
profiles: setup
	AUDISP_EQL_SHARED=$(SHARED) $(PY) tools/derive_file_watches.py -o conf/profiles/files.rules

lint-man:
	mandoc -Tlint -W warning man/*.[0-9]

clean:
	rm -rf .venv build plugin/*.egg-info .pytest_cache .hypothesis

# install/uninstall: the program (a launcher plus the package under
# $(PREFIX)/lib/audisp-eql, run by the system python3), config, plugin drop-in,
# audit rules, the rule pack (in rules.d) and man pages. DESTDIR stages into a tree (packaging, tests).
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
BINDIR     := $(PREFIX)/bin
LIBDIR     := $(PREFIX)/lib/audisp-eql
MANDIR     := $(PREFIX)/share/man
PYTHON3    ?= /usr/bin/python3

install:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/audisp-eql/rules.d $(DESTDIR)$(SYSCONFDIR)/audit/plugins.d \
	    $(DESTDIR)$(SYSCONFDIR)/audit/rules.d
	# Where the commented config points the JSON alert file; alerts are not for everyone.
	install -d -m 0750 $(DESTDIR)$(LOCALSTATEDIR)/log/audisp-eql
	rm -rf $(DESTDIR)$(LIBDIR)/audisp_eql
	cd plugin && find audisp_eql -name '*.py' -exec install -D -m 0644 {} $(DESTDIR)$(LIBDIR)/{} \;
	# google-re2 (linear-time regex matching) has no Debian package: pip puts it
	# beside the package; pyparsing and the audit bindings come from Debian.
	PIP_ROOT_USER_ACTION=ignore $(PYTHON3) -m pip install --quiet --disable-pip-version-check \
	    --no-deps --upgrade --target $(DESTDIR)$(LIBDIR) 'google-re2>=1.0'
	printf '#!%s -I\n# audisp-eql launcher (installed by make install)\nimport sys\nsys.path.insert(0, "%s")\nfrom audisp_eql.cli import main\nsys.exit(main())\n' \
	    '$(PYTHON3)' '$(LIBDIR)' > $(DESTDIR)$(BINDIR)/audisp-eql
	chmod 0755 $(DESTDIR)$(BINDIR)/audisp-eql
	sed 's|^path = .*|path = $(BINDIR)/audisp-eql|; s|/etc/audisp-eql/|$(SYSCONFDIR)/audisp-eql/|' \
	    conf/audisp-eql.conf > $(DESTDIR)$(SYSCONFDIR)/audit/plugins.d/audisp-eql.conf
	chmod 0640 $(DESTDIR)$(SYSCONFDIR)/audit/plugins.d/audisp-eql.conf
	install -m 0640 conf/audisp-eql.rules $(DESTDIR)$(SYSCONFDIR)/audit/rules.d/audisp-eql.rules
	# A configuration already there is the administrator's: never overwritten.
	test -e $(DESTDIR)$(SYSCONFDIR)/audisp-eql/audisp-eql.toml || \
	    install -m 0644 conf/audisp-eql.toml $(DESTDIR)$(SYSCONFDIR)/audisp-eql/audisp-eql.toml
	# The shipped rule pack; files of other names in rules.d are the administrator's.
	install -m 0644 rules/*.toml $(DESTDIR)$(SYSCONFDIR)/audisp-eql/rules.d/
	# The audit rule profiles, to copy into /etc/audit/rules.d by choice (README).
	install -d $(DESTDIR)$(PREFIX)/share/audisp-eql/profiles
	install -m 0644 conf/profiles/*.rules $(DESTDIR)$(PREFIX)/share/audisp-eql/profiles/
	install -m 0644 man/audisp-eql.toml.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/audisp-eql-eql.7 $(DESTDIR)$(MANDIR)/man7/
	install -m 0644 man/audisp-eql.8 $(DESTDIR)$(MANDIR)/man8/

# Leaves $(SYSCONFDIR)/audisp-eql (config and rules: the administrator's) in place.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/audisp-eql \
	    $(DESTDIR)$(SYSCONFDIR)/audit/plugins.d/audisp-eql.conf \
	    $(DESTDIR)$(SYSCONFDIR)/audit/rules.d/audisp-eql.rules \
	    $(DESTDIR)$(MANDIR)/man5/audisp-eql.toml.5 $(DESTDIR)$(MANDIR)/man7/audisp-eql-eql.7 \
	    $(DESTDIR)$(MANDIR)/man8/audisp-eql.8
	rm -f $(addprefix $(DESTDIR)$(SYSCONFDIR)/audisp-eql/rules.d/,$(notdir $(wildcard rules/*.toml)))
	rm -rf $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/share/audisp-eql
