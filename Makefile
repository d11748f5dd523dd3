# baton: a PostgreSQL extension in C++20, built with PGXS.
#   make            build            make install   install into PG_CONFIG's tree
#   make test       everything: packages, build, throwaway cluster, all suites
#   make test CASSERT=1   the same against PostgreSQL built with assertions
#   make test PG=17, PG=18   the same against another major (in a Debian chroot
#                   when this machine lacks its packages: test/majors.sh)
#   make demo       the main story on a throwaway cluster
#   make bench      performance against a plain-SQL baseline
#   make soak       a production-shaped soak against the same baseline
#                   (QUICK=1: 300,000 jobs per system; SOAK_JOBS=N: N)
#   make check-boundary   no Postgres call that can raise outside pg::call

PG        ?= 15
PG_CONFIG ?= /usr/lib/postgresql/$(PG)/bin/pg_config

EXTENSION  = baton
MODULE_big = baton
OBJS       = $(patsubst %.cpp,%.o,$(wildcard src/*.cpp))
DATA       = $(wildcard sql/baton--*.sql)

# pg_regress: one file per guarantee, in sql/ and expected/
REGRESS      = $(sort $(basename $(notdir $(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=. --load-extension=baton

# isolation specs: test/isolation/specs and test/isolation/expected
ISOLATION      = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=baton

PG_CXXFLAGS = -std=c++20 -Wall -Wextra -Werror -fno-omit-frame-pointer
PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server)
SHLIB_LINK  = -lstdc++

# make check-boundary compiles it like src/*.cpp, never links it.
EXTRA_CLEAN = test/boundary/planted_violation.o

# Debian's PGXS would compile LLVM bitcode with clang in C++14 mode.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(PGXS),)
include $(PGXS)
else ifneq ($(filter-out test,$(or $(MAKECMDGOALS),all)),)
$(error $(PG_CONFIG) is missing: install postgresql-server-dev-$(PG), or run make test PG=$(PG))
endif

# sql/ holds both the install scripts (baton--*.sql) and the regression
# tests; keep the install scripts out of REGRESS.
REGRESS := $(filter-out baton--%,$(REGRESS))

$(OBJS): $(wildcard src/*.hpp)

.PHONY: test demo bench soak
test:
	CASSERT=$(CASSERT) PG=$(PG) bash test/run.sh
demo:
	bash test/demo.sh
bench:
	bash test/bench.sh
soak:
	bash test/soak.sh

# The C++/Postgres boundary, checked in the object code (docs/development.md):
# check-boundary-src fails if src/ calls a Postgres function that can raise
# outside pg::call; check-boundary-planted shows that the checker catches the
# violations planted in test/boundary/planted_violation.cpp.
.PHONY: check-boundary check-boundary-src check-boundary-planted
check-boundary: check-boundary-src check-boundary-planted
check-boundary-src: $(OBJS)
	/usr/bin/python3 test/boundary/check.py --server "$$($(PG_CONFIG) --bindir)/postgres" $(OBJS)
test/boundary/planted_violation.o: $(wildcard src/*.hpp)
check-boundary-planted: test/boundary/planted_violation.o
	bash test/boundary/planted.sh $< --server "$$($(PG_CONFIG) --bindir)/postgres"
