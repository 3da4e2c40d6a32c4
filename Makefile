# audisp-eql: `make demo` and `make test` work on a fresh Debian machine as root.
PY      := .venv/bin/python
TOOL    := .venv/bin/audisp-eql
SHARED  ?= ../shared
PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all setup demo test bench fuzz profiles lint-man man install uninstall deb clean

all: setup

setup:
	@tools/bootstrap.sh

# scan exits 1 when rules alerted (0: none, 2: an error; see audisp-eql(8)): the demo must alert.
demo: setup
	$(TOOL) scan --format text --rules rules/ examples/intrusion.log; test $$? -eq 1

test: setup
	$(PY) -m pytest -q tests

# The peers it installs (laurel) are purged again when it ends, whatever its status.
bench: setup
	@tools/bootstrap.sh --bench
	@status=0; $(PY) bench/run.py --shared $(SHARED) $(BENCH_ARGS) || status=$$?; \
	tools/bootstrap.sh --bench-done; exit $$status

fuzz: setup
	$(PY) tests/fuzz/run.py --inputs 1000000

# The files audit profile, derived from our rules and the shared corpus (portable form).
profiles: setup
	AUDISP_EQL_SHARED=$(SHARED) $(PY) tools/derive_file_watches.py -o conf/profiles/files.rules

lint-man:
	mandoc -Tlint -W warning man/*.[0-9]

# audisp-eql(8): its synopsis, options and exit status come from the program's
# argument parsers (tools/manpage.py; tests/test_man.py fails when it is stale).
man: setup
	$(PY) tools/manpage.py

clean:
	rm -rf .venv build plugin/*.egg-info .pytest_cache .hypothesis

# install/uninstall: the program (a launcher plus the package under
# $(PREFIX)/lib/audisp-eql, run by the system python3), config, plugin drop-in,
# audit rules, the rule pack (in rules.d), control mappings for `report` (in
# controls.d), the audit rule profiles and man pages. DESTDIR stages into a tree
# (packaging, tests).
#   BUNDLE_RE2=no     do not pip-install google-re2 beside the package (the Debian
#                     package: the built-in linear-time regex automaton is used)
#   PLUGIN_USER=name  the installed config drops root to that user
#   RULE_PROFILES     audit rule files: conf/audisp-eql.rules goes to the audit rules.d,
#                     every other one to $(PREFIX)/share/audisp-eql/profiles/
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var
BINDIR     := $(PREFIX)/bin
LIBDIR     := $(PREFIX)/lib/audisp-eql
MANDIR     := $(PREFIX)/share/man
PROFILEDIR := $(PREFIX)/share/audisp-eql/profiles
PYTHON3    ?= /usr/bin/python3
BUNDLE_RE2 ?= yes
PLUGIN_USER ?=
DEFAULT_PROFILE := conf/audisp-eql.rules
RULE_PROFILES ?= $(wildcard conf/*.rules conf/profiles/*.rules)
OTHER_PROFILES = $(filter-out $(DEFAULT_PROFILE),$(RULE_PROFILES))
# The man pages are written with the default paths; installed, they name the real ones.
MAN_PATHS  = sed 's|/usr/local/|$(PREFIX)/|g; s|/etc/|$(SYSCONFDIR)/|g; s|/var/log/|$(LOCALSTATEDIR)/log/|g'

install:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/audisp-eql/rules.d $(DESTDIR)$(SYSCONFDIR)/audisp-eql/exceptions.d \
	    $(DESTDIR)$(SYSCONFDIR)/audisp-eql/controls.d \
	    $(DESTDIR)$(SYSCONFDIR)/audit/plugins.d $(DESTDIR)$(SYSCONFDIR)/audit/rules.d
	# Where the commented config points the JSON alert file; alerts are not for everyone.
	install -d -m 0750 $(DESTDIR)$(LOCALSTATEDIR)/log/audisp-eql
	rm -rf $(DESTDIR)$(LIBDIR)/audisp_eql
	cd plugin && find audisp_eql \( -name '*.py' -o -name '*.j2' \) -exec install -D -m 0644 {} $(DESTDIR)$(LIBDIR)/{} \;
ifeq ($(BUNDLE_RE2),yes)
	# google-re2 (linear-time regex matching) has no Debian package: pip puts it
	# beside the package; pyparsing and the audit bindings come from Debian.
	PIP_ROOT_USER_ACTION=ignore $(PYTHON3) -m pip install --quiet --disable-pip-version-check \
	    --no-deps --upgrade --target $(DESTDIR)$(LIBDIR) 'google-re2>=1.0'
endif
	printf '#!%s -I\n# audisp-eql launcher (installed by make install)\nimport sys\nsys.path.insert(0, "%s")\nfrom audisp_eql.cli import main\nsys.exit(main())\n' \
	    '$(PYTHON3)' '$(LIBDIR)' > $(DESTDIR)$(BINDIR)/audisp-eql
	chmod 0755 $(DESTDIR)$(BINDIR)/audisp-eql
	sed 's|^path = .*|path = $(BINDIR)/audisp-eql|; s|/etc/audisp-eql/|$(SYSCONFDIR)/audisp-eql/|' \
	    conf/audisp-eql.conf > $(DESTDIR)$(SYSCONFDIR)/audit/plugins.d/audisp-eql.conf
	chmod 0640 $(DESTDIR)$(SYSCONFDIR)/audit/plugins.d/audisp-eql.conf
	install -m 0640 $(DEFAULT_PROFILE) $(DESTDIR)$(SYSCONFDIR)/audit/rules.d/audisp-eql.rules
ifneq ($(strip $(OTHER_PROFILES)),)
	install -d $(DESTDIR)$(PROFILEDIR)
	install -m 0644 $(OTHER_PROFILES) $(DESTDIR)$(PROFILEDIR)/
endif
	# A configuration already there is the administrator's: never overwritten.
	test -e $(DESTDIR)$(SYSCONFDIR)/audisp-eql/audisp-eql.toml || { \
	    sed '$(if $(PLUGIN_USER),s|^#user = .*|user = "$(PLUGIN_USER)"|)' conf/audisp-eql.toml \
	        > $(DESTDIR)$(SYSCONFDIR)/audisp-eql/audisp-eql.toml && \
	    chmod 0644 $(DESTDIR)$(SYSCONFDIR)/audisp-eql/audisp-eql.toml; }
	# The shipped rule pack; files of other names in rules.d are the administrator's.
	install -m 0644 rules/*.toml $(DESTDIR)$(SYSCONFDIR)/audisp-eql/rules.d/
	# Control mappings for `report`: one file per framework; add yours beside them.
	install -m 0644 controls/*.toml $(DESTDIR)$(SYSCONFDIR)/audisp-eql/controls.d/
	$(MAN_PATHS) man/audisp-eql.toml.5 > $(DESTDIR)$(MANDIR)/man5/audisp-eql.toml.5
	$(MAN_PATHS) man/audisp-eql-exceptions.5 > $(DESTDIR)$(MANDIR)/man5/audisp-eql-exceptions.5
	$(MAN_PATHS) man/audisp-eql-eql.7 > $(DESTDIR)$(MANDIR)/man7/audisp-eql-eql.7
	$(MAN_PATHS) man/audisp-eql.8 > $(DESTDIR)$(MANDIR)/man8/audisp-eql.8
	chmod 0644 $(DESTDIR)$(MANDIR)/man5/audisp-eql.toml.5 $(DESTDIR)$(MANDIR)/man7/audisp-eql-eql.7 \
	    $(DESTDIR)$(MANDIR)/man5/audisp-eql-exceptions.5 $(DESTDIR)$(MANDIR)/man8/audisp-eql.8

# Leaves $(SYSCONFDIR)/audisp-eql (config and rules: the administrator's) in place.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/audisp-eql \
	    $(DESTDIR)$(SYSCONFDIR)/audit/plugins.d/audisp-eql.conf \
	    $(DESTDIR)$(SYSCONFDIR)/audit/rules.d/audisp-eql.rules \
	    $(DESTDIR)$(MANDIR)/man5/audisp-eql.toml.5 $(DESTDIR)$(MANDIR)/man7/audisp-eql-eql.7 \
	    $(DESTDIR)$(MANDIR)/man5/audisp-eql-exceptions.5 \
	    $(DESTDIR)$(MANDIR)/man8/audisp-eql.8
	rm -f $(addprefix $(DESTDIR)$(SYSCONFDIR)/audisp-eql/rules.d/,$(notdir $(wildcard rules/*.toml)))
	rm -f $(addprefix $(DESTDIR)$(SYSCONFDIR)/audisp-eql/controls.d/,$(notdir $(wildcard controls/*.toml)))
	rm -f $(addprefix $(DESTDIR)$(PROFILEDIR)/,$(notdir $(OTHER_PROFILES)))
	-rmdir $(DESTDIR)$(PROFILEDIR) $(DESTDIR)$(PREFIX)/share/audisp-eql 2>/dev/null
	rm -rf $(DESTDIR)$(LIBDIR)

# deb: build/deb/audisp-eql_<version>_all.deb with Debian's tools (debian/), from a
# copy of this tree (dpkg-buildpackage writes beside the source directory), then lintian.
DEB_BUILD_DIR ?= build/deb
VERSION    := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' plugin/audisp_eql/__init__.py)
DEB_SOURCE  = $(DEB_BUILD_DIR)/audisp-eql-$(VERSION)

deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null && command -v lintian >/dev/null || { \
	    echo "deb: needs dpkg-dev, debhelper, dh-python and lintian (tools/bootstrap.sh installs them)" >&2; exit 1; }
	@test "$$(dpkg-parsechangelog -S Version)" = "$(VERSION)" || { \
	    echo "deb: debian/changelog is at $$(dpkg-parsechangelog -S Version), the code at $(VERSION)" >&2; exit 1; }
	rm -rf $(DEB_SOURCE)
	mkdir -p $(DEB_SOURCE)
	tar -c --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist \
	    --exclude=__pycache__ --exclude='*.egg-info' --exclude=.pytest_cache --exclude=.hypothesis . \
	    | tar -x -C $(DEB_SOURCE)
	cd $(DEB_SOURCE) && dpkg-buildpackage -b -us -uc
	rm -rf $(DEB_SOURCE)
	@# lintian leaves temporary files (mldbm-elf-*) in TMPDIR: a private one, removed.
	mkdir -p $(DEB_BUILD_DIR)/lintian-tmp
	@status=0; TMPDIR=$(abspath $(DEB_BUILD_DIR))/lintian-tmp \
	    lintian --fail-on error,warning $(DEB_BUILD_DIR)/audisp-eql_$(VERSION)_all.deb \
	    || status=$$?; rm -rf $(DEB_BUILD_DIR)/lintian-tmp; exit $$status
	@echo "deb: $(DEB_BUILD_DIR)/audisp-eql_$(VERSION)_all.deb"
