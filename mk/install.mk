# mk/install.mk — installing Talaash as a Debian-style daemon (issue #16).
#
#   make man        $(BUILD)/man/talaash.8 and gateway.conf.5 from docs/man/*.scd
#                   (scdoc); gateway.conf(5)'s OPTIONS are `talaash options --scdoc`
#   make install    PREFIX=/usr/local DESTDIR= (also SBINDIR, DATADIR, MANDIR,
#                   SYSCONFDIR, LOCALSTATEDIR, UNITDIR)
#   make test-deb   builds the Debian package from a clean copy of the tree and
#                   checks it (tests/deb/deb.t: dpkg-deb -x, check-config, a
#                   start of the installed binary, lintian)
#
# What goes where (PREFIX=/usr, as the Debian package installs it):
#   /usr/sbin/talaash                      the binary
#   /etc/talaash/gateway.conf              from gateway.conf.example, with the
#                                          store, gazetteer and log paths below;
#                                          never overwritten (a newer one is put
#                                          beside it as gateway.conf.dist)
#   /usr/share/talaash/areas/*.csv         the gazetteer
#   /usr/share/talaash/console/            the web console, when console/ exists
#   /usr/share/talaash/gateway.conf.example
#   /var/lib/talaash/                      the store (made, empty)
#   /var/log/talaash/                      the log when not under systemd
#   /lib/systemd/system/talaash.service    (UNITDIR) the unit, dist/talaash.service.in
#   /etc/logrotate.d/talaash               dist/talaash.logrotate.in
#   /usr/share/man/man8/talaash.8, man5/gateway.conf.5
# The system user, and the ownership of /var/lib/talaash and /var/log/talaash,
# are the package's (debian/talaash.postinst); a plain `make install` as root
# does not create users.

PREFIX        ?= /usr/local
DESTDIR       ?=
SBINDIR       ?= $(PREFIX)/sbin
DATADIR       ?= $(PREFIX)/share/talaash
MANDIR        ?= $(PREFIX)/share/man
SYSCONFDIR    ?= /etc
LOCALSTATEDIR ?= /var
UNITDIR       ?= $(PREFIX)/lib/systemd/system

MAN_PAGES := $(BUILD)/man/talaash.8 $(BUILD)/man/gateway.conf.5
DIST_FILES := $(BUILD)/dist/talaash.service $(BUILD)/dist/talaash.logrotate \
              $(BUILD)/dist/gateway.conf

.PHONY: man dist-files test-deb

man: $(MAN_PAGES)
dist-files: $(DIST_FILES)
# The tests render the man pages and check the unit: build them with the rest.
test-bins: $(MAN_PAGES) $(DIST_FILES)

$(BUILD)/man/talaash.8: docs/man/talaash.8.scd
	@mkdir -p $(@D)
	scdoc < $< > $@.tmp && mv $@.tmp $@

# The OPTIONS section is generated from the one option table.
$(BUILD)/man/gateway.conf.5: docs/man/gateway.conf.5.scd $(DAEMON)
	@mkdir -p $(@D)
	$(DAEMON) options --scdoc > $@.options
	awk -v f=$@.options '/^@OPTIONS@$$/ { while ((getline l < f) > 0) print l; next } { print }' \
	    $< | scdoc > $@.tmp && mv $@.tmp $@
	@rm -f $@.options

# Paths filled in: the files depend on the make variables, so they are remade
# every time (cheap) rather than kept stale from another PREFIX.
DIST_SED = -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
           -e 's|@LOCALSTATEDIR@|$(LOCALSTATEDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g'

$(BUILD)/dist/%: dist/%.in FORCE
	@mkdir -p $(@D)
	sed $(DIST_SED) $< > $@

# The installed config: gateway.conf.example with the server's paths.
$(BUILD)/dist/gateway.conf: gateway.conf.example FORCE
	@mkdir -p $(@D)
	sed -e '1s|.*|; $(SYSCONFDIR)/talaash/gateway.conf — the gateway'"'"'s configuration (gateway.conf(5)), installed from gateway.conf.example.|' \
	    -e 's|^path = var/talaash.db$$|path = $(LOCALSTATEDIR)/lib/talaash/talaash.db|' \
	    -e 's|^areas_file =$$|areas_file = $(DATADIR)/areas/pakistan.csv|' \
	    -e 's|^file =$$|file = $(LOCALSTATEDIR)/log/talaash/talaash.log|' \
	    -e 's|^console_dir = console$$|console_dir = $(DATADIR)/console|' $< > $@
	@grep -q '^path = $(LOCALSTATEDIR)/lib/talaash/talaash.db$$' $@ && \
	    grep -q '^areas_file = $(DATADIR)/areas/pakistan.csv$$' $@ && \
	    grep -q '^file = $(LOCALSTATEDIR)/log/talaash/talaash.log$$' $@ && \
	    grep -q '^console_dir = $(DATADIR)/console$$' $@ || \
	    { echo "$@: gateway.conf.example no longer has the lines mk/install.mk rewrites" >&2; exit 1; }

.PHONY: FORCE
FORCE:

install: $(DAEMON) $(MAN_PAGES) $(DIST_FILES)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/areas $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/talaash $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(SYSCONFDIR)/logrotate.d
	install -d -m 0750 $(DESTDIR)$(LOCALSTATEDIR)/lib/talaash $(DESTDIR)$(LOCALSTATEDIR)/log/talaash
	install -m 0755 $(DAEMON) $(DESTDIR)$(SBINDIR)/talaash
	install -m 0644 data/areas/*.csv $(DESTDIR)$(DATADIR)/areas/
	install -m 0644 gateway.conf.example $(DESTDIR)$(DATADIR)/
	@# The console (issue #11) once its folder exists; subfolders kept.
	@if [ -d console ]; then \
	    echo "install console/ -> $(DESTDIR)$(DATADIR)/console"; \
	    find console -type d -exec install -d $(DESTDIR)$(DATADIR)/{} \; && \
	    find console -type f -exec install -m 0644 {} $(DESTDIR)$(DATADIR)/{} \; ; \
	fi
	install -m 0644 $(BUILD)/man/talaash.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(BUILD)/man/gateway.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(BUILD)/dist/talaash.service $(DESTDIR)$(UNITDIR)/
	install -m 0644 $(BUILD)/dist/talaash.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/talaash
	@# A config that exists is the operator's: never overwritten.
	@conf=$(DESTDIR)$(SYSCONFDIR)/talaash/gateway.conf; \
	if [ -e $$conf ]; then \
	    install -m 0640 $(BUILD)/dist/gateway.conf $$conf.dist; \
	    echo "install: $$conf exists, kept; the new default is $$conf.dist"; \
	else \
	    install -m 0640 $(BUILD)/dist/gateway.conf $$conf; \
	fi

# ---- the Debian package ----
DEB_DIR := $(BUILD)/deb

test-deb: deps
	@$(MAKE) --no-print-directory $(DAEMON)
	TALAASH_BUILD=$(BUILD) $(PROVE) -v tests/deb/deb.t
